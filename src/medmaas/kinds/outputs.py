"""Model outputs as answers, shared by every kind whose ONNX graph ends in class
probabilities or a value: the decision, its probability, its conformal set, its warnings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.kinds.base import Batch


def scores_from_outputs(spec: ModelSpec, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
    if spec.task == "classification":
        return np.asarray(outputs[spec.onnx.probability_output or "probabilities"], dtype=np.float64)
    return np.asarray(outputs[spec.onnx.value_output or "variable"], dtype=np.float64).reshape(-1)


def decisions(spec: ModelSpec, scores: np.ndarray) -> list[str]:
    """The predicted class of each row: P(positive) against the model's threshold for binary
    models that have one, else the most probable class. Every protocol answers with these."""
    classes = spec.output.classes or []
    threshold = spec.output.threshold if len(classes) == 2 else None
    if threshold is not None:
        return np.where(scores[:, 1] >= threshold, classes[1], classes[0]).tolist()  # type: ignore[no-any-return]
    return np.asarray(classes, dtype=object)[np.argmax(scores, axis=1)].tolist()  # type: ignore[no-any-return]


def encode_outputs(spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
    """One prediction per row: the decision, its probability, its uncertainty, its warnings.

    Decisions and sets are computed on the unrounded scores, for the whole batch at once;
    only what is shown is rounded (to 6 decimals).
    """
    scores = scores_from_outputs(spec, outputs)
    extra = spec.extra
    q = extra.get("conformal_q")
    level = 1 - extra.get("conformal_alpha", 0.1)
    shown = np.round(scores, 6).tolist()
    if spec.task == "regression":
        unit = spec.output.unit
        results: list[dict[str, Any]] = []
        for value, notes in zip(shown, batch.warnings, strict=True):
            item: dict[str, Any] = {"prediction": value, "unit": unit}
            if q is not None:
                item["interval"] = [round(value - q, 6), round(value + q, 6)]
                item["interval_level"] = level
            item["warnings"] = notes
            results.append(item)
        return results
    classes = spec.output.classes or []
    threshold = spec.output.threshold if len(classes) == 2 else None
    labels = decisions(spec, scores)
    if q is not None:
        # Rows share the list object of their set: at most 2^k distinct sets for k classes.
        masks = ((1.0 - scores) <= q).tolist()
        sets: dict[tuple[bool, ...], list[str]] = {}
        row_sets = [sets.get(key) or sets.setdefault(key, [c for c, m in zip(classes, key, strict=True) if m])
                    for key in map(tuple, masks)]
    results = []
    for i, (proba, label, notes) in enumerate(zip(shown, labels, batch.warnings, strict=True)):
        item = {"probabilities": dict(zip(classes, proba, strict=True)), "prediction": label}
        if threshold is not None:
            item["probability"] = proba[1]
            item["threshold"] = threshold
        if q is not None:
            item["prediction_set"] = row_sets[i]
            item["set_level"] = level
            item["uncertain"] = len(row_sets[i]) != 1
        item["warnings"] = notes
        results.append(item)
    return results
