"""Serving side of the tabular kind: JSON rows in, ONNX feeds; ONNX outputs, JSON out.

Needs only numpy and the bundle's spec. The request contract: every feature is present in
every row; ``null`` means *not measured* and is imputed as in training (with a warning); a field
the model does not know is refused, so a typo never silently becomes a missing value.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medmaas.bundle.spec import FeatureSpec, ModelSpec
from medmaas.exceptions import SchemaError
from medmaas.kinds.base import Batch

MISSING_CATEGORY = ""


def _number(feature: FeatureSpec, value: Any, row: int, notes: list[str]) -> float:
    if value is None:
        notes.append(f"'{feature.name}' not given; imputed as in training")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(f"row {row}: field '{feature.name}' must be a number; got {value!r}")
    if not math.isfinite(value):
        raise SchemaError(f"row {row}: field '{feature.name}' must be a finite number; got {value!r}")
    lo, hi = feature.minimum, feature.maximum
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        notes.append(f"'{feature.name}' = {value} is outside the training range [{lo:g}, {hi:g}]")
    return float(value)


def _category(feature: FeatureSpec, value: Any, row: int, notes: list[str]) -> str:
    if value is None:
        notes.append(f"'{feature.name}' not given; treated as not recorded")
        return MISSING_CATEGORY
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SchemaError(f"row {row}: field '{feature.name}' must be text; got {value!r}")
    text = value if isinstance(value, str) else f"{value:g}"
    text = text.strip()
    if feature.categories is not None and text not in feature.categories:
        notes.append(f"'{feature.name}' = {text!r} was not seen in training; treated as unknown")
    return text


def decode_rows(spec: ModelSpec, rows: Sequence[Mapping[str, Any]]) -> Batch:
    """Validate JSON rows against the spec and build the ONNX feeds."""
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes):
        raise SchemaError("'rows' must be a list of objects, one per patient")
    if len(rows) == 0:
        raise SchemaError("'rows' is empty; send at least one row")
    names = [f.name for f in spec.inputs]
    known = set(names)
    columns: dict[str, list[Any]] = {n: [] for n in names}
    warnings: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise SchemaError(f"row {i}: must be an object of field: value; got {type(row).__name__}")
        unknown = [k for k in row if k not in known]
        if unknown:
            raise SchemaError(
                f"row {i}: unknown field(s) {', '.join(map(repr, unknown))}; this model takes: {', '.join(names)}"
            )
        missing = [n for n in names if n not in row]
        if missing:
            raise SchemaError(
                f"row {i}: missing field(s) {', '.join(map(repr, missing))} (send null for a value that was not measured)"
            )
        notes: list[str] = []
        for f in spec.inputs:
            value = row[f.name]
            if f.type == "number":
                columns[f.name].append(_number(f, value, i, notes))
            else:
                columns[f.name].append(_category(f, value, i, notes))
            if f.required and value is None:
                raise SchemaError(f"row {i}: field '{f.name}' is required and may not be null")
        warnings.append(notes)
        records.append(dict(row))
    feeds: dict[str, np.ndarray] = {}
    for f in spec.inputs:
        onnx_name = spec.onnx.inputs[f.name]
        dtype = spec.onnx.input_dtypes[f.name]
        values = columns[f.name]
        if dtype == "string":
            feeds[onnx_name] = np.array(values, dtype=object).reshape(-1, 1)
        else:
            feeds[onnx_name] = np.array(values, dtype=np.dtype(dtype)).reshape(-1, 1)
    return Batch(feeds=feeds, n=len(rows), records=records, warnings=warnings)


def scores_from_outputs(spec: ModelSpec, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
    if spec.task == "classification":
        return np.asarray(outputs[spec.onnx.probability_output or "probabilities"], dtype=np.float64)
    return np.asarray(outputs[spec.onnx.value_output or "variable"], dtype=np.float64).reshape(-1)


def encode_outputs(spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
    """One prediction per row: the decision, its probability, its uncertainty, its warnings."""
    scores = scores_from_outputs(spec, outputs)
    extra = spec.extra
    results: list[dict[str, Any]] = []
    if spec.task == "regression":
        q = extra.get("conformal_q")
        for i in range(batch.n):
            value = float(scores[i])
            item: dict[str, Any] = {"prediction": round(value, 6), "unit": spec.output.unit}
            if q is not None:
                item["interval"] = [round(value - q, 6), round(value + q, 6)]
                item["interval_level"] = 1 - extra.get("conformal_alpha", 0.1)
            item["warnings"] = batch.warnings[i]
            results.append(item)
        return results
    classes = spec.output.classes or []
    q = extra.get("conformal_q")
    for i in range(batch.n):
        proba = scores[i]
        item = {"probabilities": {c: round(float(p), 6) for c, p in zip(classes, proba, strict=True)}}
        if len(classes) == 2 and spec.output.threshold is not None:
            p_pos = float(proba[1])
            item["prediction"] = classes[1] if p_pos >= spec.output.threshold else classes[0]
            item["probability"] = round(p_pos, 6)
            item["threshold"] = spec.output.threshold
        else:
            item["prediction"] = classes[int(np.argmax(proba))]
        if q is not None:
            prediction_set = [c for c, p in zip(classes, proba, strict=True) if 1.0 - p <= q]
            item["prediction_set"] = prediction_set
            item["set_level"] = 1 - extra.get("conformal_alpha", 0.1)
            item["uncertain"] = len(prediction_set) != 1
        item["warnings"] = batch.warnings[i]
        results.append(item)
    return results


def frame_rows(spec: ModelSpec, frame: Any) -> list[dict[str, Any]]:
    """Rows of an uploaded table (CSV cells arrive as text) with numbers parsed where the spec
    wants numbers; unparsable cells stay text so ``decode_rows`` names them."""
    from medmaas.data.records import frame_to_records

    rows = frame_to_records(frame)
    numeric = {f.name for f in spec.inputs if f.type == "number"}
    for row in rows:
        for key, value in row.items():
            if key in numeric and isinstance(value, str):
                with contextlib.suppress(ValueError):
                    row[key] = float(value.strip())
    return rows
