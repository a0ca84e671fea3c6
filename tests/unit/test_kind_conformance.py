"""The one suite every kind must pass: fit -> export -> ONNX parity -> decode/encode -> explain.

A kind registered without an example here fails, so a new modality cannot skip the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import breast_cancer_frame, mixed_frame

from medmaas.data.dataset import Dataset
from medmaas.kinds import get_kind, kind_names
from medmaas.runtime.loaded import load_bundle
from medmaas.training.train import PARITY_TOLERANCE, parity


def _tabular_examples() -> list[tuple[str, Dataset, dict]]:
    from sklearn.datasets import load_diabetes, load_iris

    from medmaas.data.tabular import build_tabular_dataset

    iris = load_iris(as_frame=True).frame
    iris["target"] = iris["target"].map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    return [
        ("binary-numeric", build_tabular_dataset(breast_cancer_frame(), "diagnosis", name="b", source="t"),
         {"candidates": ["logistic-regression"]}),
        ("binary-mixed-missing", build_tabular_dataset(mixed_frame(), "outcome", name="m", source="t"),
         {"candidates": ["gradient-boosting"]}),
        ("multiclass-mlp", build_tabular_dataset(iris, "target", name="i", source="t", task="classification"),
         {"candidates": ["mlp"]}),
        ("regression", build_tabular_dataset(diabetes, "target", name="d", source="t", task="regression"),
         {"candidates": ["ridge", "mlp"]}),
    ]


EXAMPLES: dict[str, Callable[[], list[tuple[str, Dataset, dict]]]] = {"tabular": _tabular_examples}


def _cases() -> list[tuple[str, str, Dataset, dict]]:
    cases = []
    for kind in kind_names():
        if kind not in EXAMPLES:
            raise AssertionError(f"kind '{kind}' has no conformance example in {__file__}")
        cases += [(kind, label, ds, opts) for label, ds, opts in EXAMPLES[kind]()]
    return cases


@pytest.mark.parametrize(("kind_name", "label", "dataset", "options"), _cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_kind_conformance(kind_name: str, label: str, dataset: Dataset, options: dict, tmp_path: Path) -> None:
    cls = get_kind(kind_name)
    kind = cls(task=dataset.task, cv_folds=3, random_state=0, **options)  # type: ignore[call-arg]
    train, test, how = kind.split(dataset)
    assert train.n_samples + test.n_samples == dataset.n_samples and "hold-out" in how
    assert kind.fit(train) is kind

    native = kind.predict_native(test)
    spec = kind.export(tmp_path, train)
    (tmp_path / "spec.json").write_text(spec.model_dump_json())
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.joblib"))
    model = load_bundle(tmp_path)

    batch = kind.onnx_inputs(test)
    onnx_scores = cls.scores(spec, model.run(batch.feeds))
    assert onnx_scores.shape == native.shape
    assert parity(dataset.task, native, onnx_scores) <= PARITY_TOLERANCE

    # decode/encode through the serving side: the same rows as JSON give the same answers.
    served = model.predict(model.decode({"rows": batch.records[:5]}))
    assert len(served) == 5
    if dataset.task == "classification":
        for item, probs in zip(served, onnx_scores[:5], strict=True):
            assert list(item["probabilities"].values()) == pytest.approx(list(probs), abs=1e-6)
            assert item["prediction"] in dataset.classes
    else:
        assert [s["prediction"] for s in served] == pytest.approx(list(onnx_scores[:5]), rel=1e-5)
        assert all(s["interval"][0] < s["prediction"] < s["interval"][1] for s in served)

    # explain: contributions add up to the prediction minus the base value (SHAP efficiency).
    explained = model.explain(model.decode({"rows": batch.records[:2]}), top_k=100)
    for item, out in zip(explained, served[:2], strict=True):
        total = item["base_value"] + sum(c["contribution"] for c in item["contributions"])
        if dataset.task == "regression":
            assert total == pytest.approx(out["prediction"], rel=1e-3)
        else:
            assert 0.0 <= total <= 1.0 + 1e-6
            assert total == pytest.approx(max(out["probabilities"].values()) if len(dataset.classes) > 2
                                          else out["probability"], abs=1e-3)
    assert np.isfinite(onnx_scores).all()
