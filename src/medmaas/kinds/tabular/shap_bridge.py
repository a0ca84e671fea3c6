"""Connects SHAP to a tabular bundle: raw feature arrays <-> ONNX feeds."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.kinds.base import Batch, InferenceFn
from medmaas.kinds.tabular.codec import MISSING_CATEGORY, scores_from_outputs


@lru_cache(maxsize=64)
def _background(path: str) -> np.ndarray:
    records = json.loads(Path(path).read_text())
    return np.array([list(r.values()) for r in records], dtype=object)


def _feeds(spec: ModelSpec, matrix: np.ndarray) -> dict[str, np.ndarray]:
    feeds = {}
    for j, f in enumerate(spec.inputs):
        column = matrix[:, j]
        if spec.onnx.input_dtypes[f.name] == "string":
            feeds[spec.onnx.inputs[f.name]] = np.array(
                [MISSING_CATEGORY if v is None else str(v) for v in column], dtype=object
            ).reshape(-1, 1)
        else:
            feeds[spec.onnx.inputs[f.name]] = np.array(
                [np.nan if v is None else v for v in column], dtype=np.float32
            ).reshape(-1, 1)
    return feeds


def contributions(spec: ModelSpec, bundle_dir: Path, run: InferenceFn,
                  batch: Batch) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """SHAP values (n, m), base values (n,), and which output each row's values explain."""
    from medmaas.explain.shap_tabular import shap_values

    names = [f.name for f in spec.inputs]
    rows = np.array([[r.get(n) for n in names] for r in batch.records], dtype=object)
    background = _background(str(bundle_dir / (spec.explain.background or "explain/background.json")))
    classes = spec.output.classes or []

    def predict(matrix: np.ndarray) -> Any:
        return scores_from_outputs(spec, run(_feeds(spec, matrix)))

    if spec.task == "regression":
        values, base = shap_values(predict, background, rows)
        return values, base, [spec.output.target] * batch.n
    if len(classes) == 2:
        values, base = shap_values(lambda m: predict(m)[:, 1], background, rows)
        return values, base, [f"P({spec.output.target} = {classes[1]})"] * batch.n
    # Multiclass: explain each row's predicted class.
    values3, base2 = shap_values(predict, background, rows)
    chosen = np.argmax(predict(rows), axis=1)
    idx = np.arange(batch.n)
    return (values3[idx, :, chosen], base2[idx, chosen],
            [f"P({spec.output.target} = {classes[c]})" for c in chosen])
