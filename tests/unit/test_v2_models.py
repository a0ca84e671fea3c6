"""The V2 contracts on hand-made specs: a float matrix decodes to the batch JSON rows make,
with the same warnings and errors; outputs carry the /v1 decision; regression gives a value and
its interval."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from medmaas.api.v2.models import TabularContract, contract_for
from medmaas.api.v2.tensors import Tensor
from medmaas.bundle.spec import FeatureSpec, ModelSpec, OnnxBinding, OutputSpec
from medmaas.exceptions import SchemaError
from medmaas.kinds.base import Batch
from medmaas.kinds.outputs import encode_outputs
from medmaas.kinds.tabular import codec


def _spec(task: str = "classification", **extra: Any) -> ModelSpec:
    inputs = [FeatureSpec(name="age", type="number", minimum=18, maximum=90),
              FeatureSpec(name="lactate", type="number", minimum=0.31, maximum=12.7)]
    output = (OutputSpec(target="died", task="classification", classes=["no", "yes"], threshold=0.3)
              if task == "classification" else OutputSpec(target="los", task="regression", unit="days"))
    return ModelSpec(kind="tabular", task=task, estimator="test", inputs=inputs, output=output,  # type: ignore[arg-type]
                     onnx=OnnxBinding(inputs={}, packed={"input": ["age", "lactate"]},
                                      input_dtypes={"age": "float32", "lactate": "float32"}),
                     extra=extra)


def _matrix(rows: list[list[float]], dtype: Any = np.float32) -> dict[str, Tensor]:
    array = np.array(rows, dtype=dtype)
    return {"input": Tensor("input", "FP32" if dtype == np.float32 else "FP64", array.shape, array)}


def test_a_matrix_decodes_to_the_batch_of_the_same_json_rows() -> None:
    spec = _spec()
    batch = contract_for(spec).decode(spec, _matrix([[40, 1.2], [71, np.nan], [95.3, 0.31]]), {})
    rows = codec.decode_rows(spec, [{"age": 40.0, "lactate": 1.2}, {"age": 71.0, "lactate": None},
                                    {"age": 95.3, "lactate": 0.31}])
    assert batch.warnings == rows.warnings
    assert batch.warnings[1] == ["'lactate' not given; imputed as in training"]
    # The float32 95.3 is 95.3000030518: quoted as sent; 0.31 as float32 is still the bound.
    assert batch.warnings[2] == ["'age' = 95.3 is outside the training range [18, 90]"]
    np.testing.assert_array_equal(batch.feeds["input"], rows.feeds["input"])
    assert list(batch.records) == rows.records


def test_a_clean_matrix_skips_the_row_checks_but_keeps_its_records() -> None:
    spec = _spec()
    batch = contract_for(spec).decode(spec, _matrix([[40.5, 1.25], [90, 12.7]], np.float64), {})
    assert batch.warnings == [[], []] and batch.n == 2
    assert batch.records[1] == {"age": 90.0, "lactate": 12.7} and len(batch.records[:]) == 2


@pytest.mark.parametrize(("rows", "words"), [
    ([[40, np.inf]], ["row 0", "'lactate'", "finite"]),
    ([[40, 1.0, 2.0]], ["'input'", "[-1, 2]", "[1, 3]"]),
])
def test_bad_matrices_are_refused_by_name(rows: list[list[float]], words: list[str]) -> None:
    spec = _spec()
    with pytest.raises(SchemaError) as caught:
        contract_for(spec).decode(spec, _matrix(rows), {})
    for word in words:
        assert word in str(caught.value)


def test_labels_are_the_v1_decisions_at_the_models_threshold() -> None:
    spec = _spec()
    probabilities = np.array([[0.8, 0.2], [0.65, 0.35], [0.1, 0.9]], dtype=np.float32)
    batch = Batch(feeds={}, n=3, records=[{}, {}, {}], warnings=[[], ["x"], []])
    tensors, parameters = contract_for(spec).encode(spec, {"probabilities": probabilities}, batch)
    by_name = {t.name: t.array for t in tensors}
    assert by_name["label"].tolist() == [p["prediction"] for p in encode_outputs(spec, {"probabilities": probabilities},
                                                                                 batch)] == ["no", "yes", "yes"]
    assert parameters == {"warnings": '[[], ["x"], []]'}
    assert [t.name for t in contract_for(spec).outputs(spec)] == ["probabilities", "label"]


def test_regression_gives_a_value_and_its_conformal_interval() -> None:
    spec = _spec("regression", conformal_q=1.5)
    outputs = contract_for(spec).outputs(spec)
    assert [(t.name, t.datatype, t.shape) for t in outputs] == [("value", "FP32", [-1]), ("interval", "FP32", [-1, 2])]
    assert outputs[0].parameters == {"unit": "days"}
    batch = Batch(feeds={}, n=2, records=[{}, {}], warnings=[[], []])
    tensors, parameters = contract_for(spec).encode(spec, {"variable": np.array([[3.0], [7.5]], np.float32)}, batch)
    by_name = {t.name: t.array for t in tensors}
    assert by_name["value"].tolist() == [3.0, 7.5]
    assert by_name["interval"].tolist() == [[1.5, 4.5], [6.0, 9.0]]
    assert parameters == {}


def test_models_with_a_feature_named_input_take_one_tensor_per_feature() -> None:
    spec = ModelSpec(kind="tabular", task="classification", estimator="test",
                     inputs=[FeatureSpec(name="input", type="number"), FeatureSpec(name="b", type="number")],
                     output=OutputSpec(target="y", task="classification", classes=["a", "b"]),
                     onnx=OnnxBinding(inputs={}, packed={"input": ["input", "b"]},
                                      input_dtypes={"input": "float32", "b": "float32"}))
    assert [t.name for t in TabularContract().inputs(spec)] == ["input", "b"]
    column = np.array([1.0, 2.0], dtype=np.float32)
    batch = TabularContract().decode(spec, {"input": Tensor("input", "FP32", (2,), column),
                                            "b": Tensor("b", "FP32", (2,), column)}, {})
    assert batch.n == 2
