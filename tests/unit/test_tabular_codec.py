"""The tabular codec: the vectorised path and the row-by-row checks give the same batch, and
everything unusual takes the checked path with its messages."""

from __future__ import annotations

import random

import numpy as np
import pytest

from medmaas.bundle.spec import FeatureSpec, ModelSpec, OnnxBinding, OutputSpec
from medmaas.exceptions import SchemaError
from medmaas.kinds.base import Batch
from medmaas.kinds.tabular import codec


def _spec(packed: bool) -> ModelSpec:
    inputs = [
        FeatureSpec(name="age", type="number", minimum=18, maximum=95),
        FeatureSpec(name="sex", type="string", categories=["F", "M"]),
        FeatureSpec(name="creatinine", type="number", minimum=0.2, maximum=9.0),
        FeatureSpec(name="sodium", type="number"),
    ]
    numbers = ["age", "creatinine", "sodium"]
    if packed:
        binding = OnnxBinding(inputs={"sex": "f001"}, packed={"numeric": numbers},
                              input_dtypes={"age": "float32", "sex": "string",
                                            "creatinine": "float32", "sodium": "float32"})
    else:
        binding = OnnxBinding(inputs={"age": "f000", "sex": "f001", "creatinine": "f002",
                                      "sodium": "f003"},
                              input_dtypes={"age": "float32", "sex": "string",
                                            "creatinine": "float32", "sodium": "float32"})
    return ModelSpec(kind="tabular", task="classification", estimator="test", inputs=inputs,
                     output=OutputSpec(target="death", task="classification", classes=["no", "yes"]),
                     onnx=binding)


def _same(a: Batch, b: Batch) -> None:
    assert a.n == b.n and a.records == b.records and a.warnings == b.warnings
    assert a.feeds.keys() == b.feeds.keys()
    for name in a.feeds:
        assert a.feeds[name].dtype == b.feeds[name].dtype
        np.testing.assert_array_equal(a.feeds[name], b.feeds[name])


@pytest.mark.parametrize("packed", [True, False])
def test_clean_rows_take_the_fast_path_and_match_the_checked_one(packed: bool) -> None:
    spec = _spec(packed)
    rng = random.Random(0)
    rows = [{"age": rng.randint(18, 95), "sex": rng.choice("FM"), "creatinine": rng.uniform(0.2, 9),
             "sodium": rng.uniform(120, 150)} for _ in range(50)]
    plan = codec._plan(spec)
    fast = codec._decode_clean(plan, rows)
    assert fast is not None
    _same(fast, codec._decode_checked(plan, rows))
    if packed:
        assert fast.feeds["numeric"].shape == (50, 3) and fast.feeds["numeric"].dtype == np.float32
        assert fast.feeds["f001"].shape == (50, 1)


@pytest.mark.parametrize("change", [
    {"age": None}, {"age": 120}, {"sex": "X"}, {"sex": " F "}, {"age": True}, {"age": "70"},
    {"sodium": float("inf")}, {"sodium": float("nan")}, {"sodium": 10**400},
])
@pytest.mark.parametrize("n", [1, 5])  # the range is checked in Python for 1-2 rows, numpy beyond
def test_unusual_rows_leave_the_fast_path(change: dict[str, object], n: int) -> None:
    spec = _spec(True)
    clean = {"age": 70, "sex": "F", "creatinine": 1.1, "sodium": 140.0}
    rows = [dict(clean) for _ in range(n - 1)] + [{**clean, **change}]
    assert codec._decode_clean(codec._plan(spec), rows) is None


def test_the_checked_path_warns_and_refuses_as_before() -> None:
    spec = _spec(True)
    batch = codec.decode_rows(spec, [{"age": None, "sex": "X", "creatinine": 1.1, "sodium": 140}])
    assert any("imputed" in w for w in batch.warnings[0])
    assert any("not seen in training" in w for w in batch.warnings[0])
    assert np.isnan(batch.feeds["numeric"][0, 0])
    with pytest.raises(SchemaError, match="row 0: field 'age' must be a number; got '70'"):
        codec.decode_rows(spec, [{"age": "70", "sex": "F", "creatinine": 1.1, "sodium": 140}])
    with pytest.raises(SchemaError, match="unknown field"):
        codec.decode_rows(spec, [{"age": 1, "sex": "F", "creatinine": 1.1, "sodium": 1, "x": 2}])


def test_a_spec_must_bind_every_feature_once() -> None:
    with pytest.raises(ValueError, match="exactly once"):
        ModelSpec(kind="tabular", task="classification", estimator="t",
                  inputs=[FeatureSpec(name="a", type="number")],
                  output=OutputSpec(target="y", task="classification", classes=["0", "1"]),
                  onnx=OnnxBinding(inputs={}, input_dtypes={"a": "float32"}))
