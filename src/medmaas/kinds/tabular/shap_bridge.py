"""Connects SHAP to a tabular bundle: raw feature arrays <-> ONNX feeds."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.kinds.base import Batch, InferenceFn
from medmaas.kinds.tabular.codec import MISSING_CATEGORY, feeds_from_columns, scores_from_outputs


@lru_cache(maxsize=64)
def _background_records(path: str, names: tuple[str, ...]) -> tuple[tuple[Any, ...], ...]:
    records = json.loads(Path(path).read_text())
    return tuple(tuple(r.get(n) for n in names) for r in records)


class _Encoding:
    """SHAP's maskers work on numbers: categories travel as integer codes into a vocabulary
    (the training categories, then anything new a request brought)."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.vocab: dict[int, list[str]] = {
            j: [*(f.categories or []), MISSING_CATEGORY]
            for j, f in enumerate(spec.inputs) if spec.onnx.input_dtypes[f.name] == "string"
        }

    def encode(self, rows: Any) -> np.ndarray:
        out = np.full((len(rows), len(self.spec.inputs)), np.nan, dtype=np.float64)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if j in self.vocab:
                    text = MISSING_CATEGORY if value is None else str(value)
                    words = self.vocab[j]
                    if text not in words:
                        words.append(text)
                    out[i, j] = words.index(text)
                elif value is not None:
                    out[i, j] = float(value)
        return out

    def feeds(self, matrix: np.ndarray) -> dict[str, np.ndarray]:
        numeric = [j for j in range(len(self.spec.inputs)) if j not in self.vocab]
        texts = {
            self.spec.inputs[j].name: np.array(words, dtype=object)[matrix[:, j].astype(np.int64)].tolist()
            for j, words in self.vocab.items()
        }
        return feeds_from_columns(self.spec, matrix[:, numeric], texts)


def contributions(spec: ModelSpec, bundle_dir: Path, run: InferenceFn, batch: Batch,
                  permutations: int = 5) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """SHAP values (n, m), base values (n,), and which output each row's values explain."""
    from medmaas.explain.shap_tabular import shap_values

    names = [f.name for f in spec.inputs]
    encoding = _Encoding(spec)
    background = encoding.encode(_background_records(
        str(bundle_dir / (spec.explain.background or "explain/background.json")), tuple(names)))
    rows = encoding.encode([[r.get(n) for n in names] for r in batch.records])
    classes = spec.output.classes or []

    def predict(matrix: np.ndarray) -> Any:
        return scores_from_outputs(spec, run(encoding.feeds(matrix)))

    if spec.task == "regression":
        values, base = shap_values(predict, background, rows, permutations=permutations)
        return values, base, [spec.output.target] * batch.n
    if len(classes) == 2:
        values, base = shap_values(lambda m: predict(m)[:, 1], background, rows,
                                   permutations=permutations)
        return values, base, [f"P({spec.output.target} = {classes[1]})"] * batch.n
    # Multiclass: explain each row's predicted class.
    values3, base2 = shap_values(predict, background, rows, permutations=permutations)
    chosen = np.argmax(predict(rows), axis=1)
    idx = np.arange(batch.n)
    return (values3[idx, :, chosen], base2[idx, chosen],
            [f"P({spec.output.target} = {classes[c]})" for c in chosen])
