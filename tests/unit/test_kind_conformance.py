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


def _image_examples() -> list[tuple[str, Dataset, dict]]:
    from tests.image_builders import blob_dataset

    fast = {"epochs": 3, "batch_size": 32, "patience": 3}
    return [
        ("2d-binary-int8", blob_dataset(n=96, size=16, seed=0), {"candidates": ["resnet"], **fast}),
        ("3d-binary", blob_dataset(n=48, size=12, spatial_dims=3, seed=1),
         {"candidates": ["resnet"], "quantize": False, **fast}),
    ]


def _text_examples() -> list[tuple[str, Dataset, dict]]:
    from tests.text_builders import note_dataset

    return [
        ("tfidf-baseline", note_dataset(n=120, seed=0), {"candidates": ["tfidf"]}),
        ("minilm-int8", note_dataset(n=80, seed=1), {"candidates": ["minilm"], "epochs": 1, "max_tokens": 32}),
    ]


def _timeseries_examples() -> list[tuple[str, Dataset, dict]]:
    from tests.timeseries_builders import _timeseries_examples as examples

    return examples()


def _signal_examples() -> list[tuple[str, Dataset, dict]]:
    from tests.signal_builders import beat_dataset

    ds = beat_dataset(n_records=6, seconds=60, seed=0)
    return [
        ("cnn-int8-by-record", ds, {"candidates": ["cnn"], "epochs": 2}),
        ("gru-by-beat", ds, {"candidates": ["gru"], "epochs": 1, "split": "beats"}),
        ("lstm-and-trees", ds, {"candidates": ["lstm", "gradient-boosting"], "epochs": 1}),
    ]


EXAMPLES: dict[str, Callable[[], list[tuple[str, Dataset, dict]]]] = {
    "tabular": _tabular_examples,
    "image": _image_examples,
    "text": _text_examples,
    "signal": _signal_examples,
    "timeseries": _timeseries_examples,
}


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

    if kind_name == "signal":
        _check_recordings(model, spec)
        return
    # decode/encode through the serving side: the same rows as JSON give the same answers.
    rows = _json_rows(kind_name, batch, spec)
    served = model.predict(model.decode({"rows": rows[:5]}))
    assert len(served) == 5
    if dataset.task == "classification":
        for item, probs in zip(served, onnx_scores[:5], strict=True):
            assert list(item["probabilities"].values()) == pytest.approx(list(probs), abs=1e-6)
            assert item["prediction"] in dataset.classes
    else:
        assert [s["prediction"] for s in served] == pytest.approx(list(onnx_scores[:5]), rel=1e-5)
        assert all(s["interval"][0] < s["prediction"] < s["interval"][1] for s in served)

    if kind_name == "image":
        _check_heatmaps(model, rows[:2], spec)
        return
    if kind_name == "text":
        _check_word_attributions(model, rows[:2], served[:2])
        _check_padding_changes_nothing(model, rows)
        for file in spec.onnx.variants.values():  # dynamic int8: one note per call, as served
            _check_padding_changes_nothing(load_bundle(tmp_path, onnx_file=file, warm_up=False), rows)
        return
    if kind_name == "timeseries":
        _check_stay_explanations(model, rows[:2], served[:2])
        return
    # explain: contributions add up to the prediction minus the base value (SHAP efficiency).
    explained = model.explain(model.decode({"rows": rows[:2]}), top_k=100)
    for item, out in zip(explained, served[:2], strict=True):
        total = item["base_value"] + sum(c["contribution"] for c in item["contributions"])
        if dataset.task == "regression":
            assert total == pytest.approx(out["prediction"], rel=1e-3)
        else:
            assert 0.0 <= total <= 1.0 + 1e-6
            assert total == pytest.approx(max(out["probabilities"].values()) if len(dataset.classes) > 2
                                          else out["probability"], abs=1e-3)
    assert np.isfinite(onnx_scores).all()


def _json_rows(kind_name: str, batch, spec) -> list[dict]:  # type: ignore[no-untyped-def]
    """The batch as a client would send it: records for tables, nested lists for images."""
    if kind_name == "text":
        return [{"text": record["text"]} for record in batch.records]
    if kind_name != "image":
        return batch.records
    feed = spec.onnx.inputs["image"]
    return [{"image": image.tolist()} for image in batch.feeds[feed]]


def _check_heatmaps(model, rows: list[dict], spec) -> None:  # type: ignore[no-untyped-def]
    import base64
    import io

    from PIL import Image

    explained = model.explain(model.decode({"rows": rows}))
    for item in explained:
        heatmap = np.asarray(item["heatmap"])
        assert heatmap.shape == tuple(spec.inputs[0].shape[1:])
        assert np.isfinite(heatmap).all() and np.abs(heatmap).max() > 0
        picture = Image.open(io.BytesIO(base64.b64decode(item["overlay_png"])))
        assert picture.format == "PNG" and min(picture.size) >= 224
        assert item["explained_class"] == spec.output.positive_class


def _check_word_attributions(model, rows: list[dict], served: list[dict]) -> None:  # type: ignore[no-untyped-def]
    explained = model.explain(model.decode({"rows": rows}), top_k=100)
    for item, row, out in zip(explained, rows, served, strict=True):
        assert item["class"] == out["prediction"]  # the answered class, threshold included
        assert item["words_explained"] == len(item["top_words"]) > 0
        for word in item["top_words"]:
            assert row["text"][word["start"]:word["end"]] == word["word"]
            assert np.isfinite(word["contribution"])


def _check_padding_changes_nothing(model, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """Notes of different lengths joined into one call (as the micro-batcher does) get the
    answers they get alone."""
    from medmaas.runtime.batcher import join_feeds

    by_length = sorted(rows, key=lambda r: len(r["text"]))
    short, long = (model.decode({"rows": [r]}) for r in (by_length[0], by_length[-1]))
    alone = np.vstack([model.run(b.feeds)["probabilities"] for b in (short, long)])
    joined = model.run({k: join_feeds([short.feeds[k], long.feeds[k]]) for k in short.feeds})["probabilities"]
    np.testing.assert_allclose(joined, alone, atol=1e-5)


def _check_recordings(model, spec) -> None:  # type: ignore[no-untyped-def]
    """A whole recording sent as JSON samples: one answer with a label per beat, the rhythm
    summary, and an explanation drawn as a PNG."""
    import base64

    from tests.signal_builders import synthetic_ecg

    signal, peaks, _ = synthetic_ecg(seconds=20, fs=250, seed=7)
    batch = model.decode({"rows": [{"signal": signal.round(4).tolist(), "sampling_rate": 250}]})
    (answer,) = model.predict(batch)
    assert abs(len(answer["beats"]) - len(peaks)) <= 2
    assert {b["label"] for b in answer["beats"]} <= set(spec.output.classes)
    assert answer["summary"]["beats"] == len(answer["beats"])
    (explained,) = model.explain(batch, 5)
    assert explained["beats"] and all(len(b["segments"]) == 16 for b in explained["beats"])
    assert base64.b64decode(explained["png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"


def _check_stay_explanations(model, rows: list[dict], served: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """Occlusion over variables and hours explains the risk that was answered."""
    for item, out in zip(model.explain(model.decode({"rows": rows}), top_k=5), served, strict=True):
        assert item["probability"] == pytest.approx(out["probability"], abs=1e-6)
        heatmap = item["heatmap"]
        assert np.asarray(heatmap["contribution"]).shape == (len(heatmap["variables"]), 48)
