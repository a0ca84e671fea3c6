"""Serving side of the timeseries kind (spec.json, numpy and onnxruntime only): requests to
ONNX feeds, probabilities to answers.

A request row is one stay::

    {"measurements": [{"time": "07:30", "parameter": "HR", "value": 80}, ...],
     "statics": {"age": 67, "gender": "female", "height": 165, "weight": 72, "icu_type": "MICU"}}

``time`` is "HH:MM" since ICU admission or a number of hours. A file upload is one stay as a
``Time,Parameter,Value`` CSV: the PhysioNet 2012 ``.txt`` format itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import IntegrityError, PayloadTooLargeError, SchemaError
from medmaas.kinds.base import Batch
from medmaas.kinds.outputs import encode_outputs
from medmaas.kinds.timeseries.physionet import GENDERS, ICU_TYPES, STATIC_FIELDS, STATICS
from medmaas.kinds.timeseries.representation import (
    Scaling,
    hourly_grid,
    static_vector,
    stay_features,
)
from medmaas.kinds.timeseries.stays import Stay, StayBuilder, StayNotes, Vocabulary

MAX_STAYS_PER_REQUEST = 256
#: an ICU stay's first 48 h hold ~450 measurements (PhysioNet 2012: at most ~1,400)
MAX_MEASUREMENTS_PER_STAY = 20_000
#: one stay's Time,Parameter,Value file; a PhysioNet stay is ~10 KB
MAX_FILE_BYTES = 2 * 1024 * 1024
#: fewer measurements than this in the window: say that the risk rests on little
FEW_MEASUREMENTS = 10
ROW_FIELDS = ("measurements", "statics", "id")
HOURLY, SUMMARIES = "hourly", "summaries"
#: the ensemble's graph reads both: the GRU's grid and statics, and the trees' per-stay features
BOTH = f"{HOURLY}+{SUMMARIES}"


def scaling_of(spec: ModelSpec) -> Scaling:
    return spec.memo("scaling", lambda: Scaling.from_json(spec.extra["representation"]))


def vocabulary_of(spec: ModelSpec) -> Vocabulary:
    return spec.memo("vocabulary", lambda: Vocabulary(scaling_of(spec).variables))


def pack(stays: Sequence[Stay]) -> tuple[np.ndarray, ...]:
    """(offsets, times, variables, values, statics): the dataset's flat layout for a few stays."""
    counts = np.array([s.n_measurements for s in stays], dtype=np.int64)
    empty = np.zeros(0)
    return (np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            np.concatenate([s.times for s in stays] or [empty]).astype(np.float64),
            np.concatenate([s.variables for s in stays] or [empty]).astype(np.int64),
            np.concatenate([s.values for s in stays] or [empty]).astype(np.float64),
            np.stack([s.statics for s in stays]) if stays else np.zeros((0, len(STATICS))))


def model_feeds(scaling: Scaling, inputs: str, offsets: np.ndarray, times: np.ndarray, variables: np.ndarray,
                values: np.ndarray, statics: np.ndarray) -> dict[str, np.ndarray]:
    """The ONNX feeds of a candidate: the hourly grid and statics (HOURLY), the per-stay features
    (SUMMARIES), or both (BOTH, the ensemble: the two sets' input names are distinct)."""
    parts = inputs.split("+")
    unknown = sorted(set(parts) - {HOURLY, SUMMARIES})
    if unknown:
        raise IntegrityError(f"spec.extra.inputs {inputs!r} names unknown input set(s) {unknown}; "
                          f"known: {HOURLY!r}, {SUMMARIES!r}, {BOTH!r}")
    variables = variables.astype(np.int64)
    feeds: dict[str, np.ndarray] = {}
    if HOURLY in parts:
        grid_values, mask, delta = hourly_grid(scaling, offsets, times, variables, values)
        feeds |= {"values": grid_values, "mask": mask, "delta": delta, "statics": static_vector(scaling, statics)}
    if SUMMARIES in parts:
        feeds["features"] = stay_features(scaling, offsets, times, variables, values, statics)
    return feeds


def feeds_for(spec: ModelSpec, stays: Sequence[Stay]) -> dict[str, np.ndarray]:
    return model_feeds(scaling_of(spec), spec.extra["inputs"], *pack(stays))


def record_of(stay: Stay, variable_names: Sequence[str]) -> dict[str, Any]:
    """A stay as the JSON row a client sends (times in hours): decoding it gives the same stay."""
    measurements = [{"time": float(t), "parameter": variable_names[int(v)], "value": float(x)}
                    for t, v, x in zip(stay.times, stay.variables, stay.values, strict=True)]
    statics = {field: float(stay.statics[STATICS.index(name)]) for field, name in STATIC_FIELDS.items()
               if math.isfinite(stay.statics[STATICS.index(name)])}
    return {"measurements": measurements, "statics": statics}


# ---- decoding ----------------------------------------------------------------------------
def decode_rows(spec: ModelSpec, rows: Any) -> Batch:
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes) or not rows:
        raise SchemaError('send {"rows": [{"measurements": [{"time": "HH:MM", "parameter": "HR", "value": 80}, '
                          '...], "statics": {...}}]}: a non-empty list of stays')
    if len(rows) > MAX_STAYS_PER_REQUEST:
        raise PayloadTooLargeError(f"{len(rows)} stays exceed the limit of {MAX_STAYS_PER_REQUEST} per request")
    stays, records, warnings = [], [], []
    for i, row in enumerate(rows):
        stay, record, notes = decode_row(spec, i, row)
        stays.append(stay)
        records.append(record)
        warnings.append(notes)
    return Batch(feeds=feeds_for(spec, stays), n=len(stays), records=records, warnings=warnings)


def decode_row(spec: ModelSpec, i: int, row: Any) -> tuple[Stay, dict[str, Any], list[str]]:
    """One stay of a request: its arrays, its record (the row as the model read it) and warnings."""
    where = f"row {i}"
    if not isinstance(row, Mapping):
        raise SchemaError(f'{where}: each row is one stay, an object {{"measurements": [...], "statics": {{...}}}}')
    unknown = sorted(set(row) - set(ROW_FIELDS))
    if unknown:
        raise SchemaError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; a stay has "
                          f"{', '.join(map(repr, ROW_FIELDS))}")
    measurements = row.get("measurements")
    if not isinstance(measurements, list) or not measurements:
        raise SchemaError(f"{where}: 'measurements' must be a non-empty list of "
                          '{"time": "HH:MM" or hours, "parameter": name, "value": number}; the stay is empty')
    if len(measurements) > MAX_MEASUREMENTS_PER_STAY:
        raise PayloadTooLargeError(f"{where}: {len(measurements)} measurements exceed the limit of "
                                   f"{MAX_MEASUREMENTS_PER_STAY} per stay")
    window = scaling_of(spec).hours
    builder = StayBuilder(vocabulary_of(spec), window_hours=window, where=where, error=SchemaError,
                          missing_value=spec.extra.get("missing_value"),
                          weight_at_zero_is_static="statics" not in row)
    for j, item in enumerate(measurements):
        if not isinstance(item, Mapping) or not {"time", "parameter", "value"} <= set(item):
            raise SchemaError(f'{where}, measurement {j}: expected {{"time": ..., "parameter": ..., "value": ...}}; '
                              f"got {str(item)[:80]}")
        builder.add(f"measurement {j}", item["time"], item["parameter"], item["value"])
    statics = row.get("statics") or {}
    if not isinstance(statics, Mapping):
        raise SchemaError(f"{where}: 'statics' must be an object with any of {', '.join(STATIC_FIELDS)}")
    for field, value in statics.items():
        name = STATIC_FIELDS.get(str(field).lower())
        if name is None:
            raise SchemaError(f"{where}: unknown static descriptor {field!r}; known: {', '.join(STATIC_FIELDS)}")
        builder.set_static(name, _static_value(name, value, f"{where}, statics.{field}"))
    stay = builder.build()
    notes = _notes(spec, stay, builder.notes)
    record = record_of(stay, vocabulary_of(spec).variables)
    if "id" in row:
        record["id"] = row["id"]
    return stay, record, notes


def decode_file(spec: ModelSpec, data: bytes, filename: str = "") -> Batch:
    """One stay as a ``Time,Parameter,Value`` CSV (the PhysioNet 2012 .txt format)."""
    from medmaas.kinds.timeseries.reading import read_stay_text

    label = filename or "the upload"
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLargeError(f"{label} is {len(data) / 2**20:.1f} MiB; one stay's file may be at most "
                                   f"{MAX_FILE_BYTES // 2**20} MiB (a 48-hour ICU stay is ~10 KB)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{label} is not UTF-8 text (invalid byte at position {exc.start})") from None
    # Counted as the reader splits them: "\r" alone (old Mac files) and "\u2028" end lines too.
    if len(text.splitlines()) > MAX_MEASUREMENTS_PER_STAY + 1:
        raise PayloadTooLargeError(f"{label} has more than {MAX_MEASUREMENTS_PER_STAY} rows, the limit per stay")
    spec_window = scaling_of(spec).hours
    stay, stay_notes = read_stay_text(text, vocabulary_of(spec), where=label, window_hours=spec_window,
                                      missing_value=spec.extra.get("missing_value"), error=SchemaError)
    record = record_of(stay, vocabulary_of(spec).variables)
    record["file"] = filename
    return Batch(feeds=feeds_for(spec, [stay]), n=1, records=[record],
                 warnings=[_notes(spec, stay, stay_notes)])


def decode_table(spec: ModelSpec, frame: Any) -> Batch:
    """A long table (a DataFrame from the CLI): Time, Parameter, Value and optionally a stay id
    column (stay_id or RecordID); one stay per id, in the order they first appear."""
    lower = {str(c).strip().lower(): c for c in frame.columns}
    missing = [c for c in ("time", "parameter", "value") if c not in lower]
    if missing:
        raise SchemaError(f"the table needs columns Time, Parameter, Value (one row per measurement); "
                          f"it has {list(frame.columns)}")
    stay_column = next((lower[c] for c in ("stay_id", "recordid", "stay") if c in lower), None)
    keys = frame[stay_column].astype(str) if stay_column is not None else ["stay"] * len(frame)
    rows: dict[str, list[dict[str, Any]]] = {}
    for key, t, p, v in zip(keys, frame[lower["time"]], frame[lower["parameter"]], frame[lower["value"]],
                            strict=True):
        rows.setdefault(key, []).append({"time": t, "parameter": p, "value": v})
    return decode_rows(spec, [{"measurements": m, "id": k} for k, m in rows.items()])


def _static_value(name: str, value: Any, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip().lower()
        table = GENDERS if name == "Gender" else ICU_TYPES if name == "ICUType" else {}
        if text in table:
            return float(table[text])
        try:
            value = float(text)
        except ValueError:
            allowed = f"neither a number nor one of {', '.join(table)}" if table else "not a number"
            raise SchemaError(f"{where}: {value!r} is {allowed}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SchemaError(f"{where}: must be a finite number; got {value!r}")
    return float(value)


def _notes(spec: ModelSpec, stay: Stay, left_out: StayNotes) -> list[str]:
    window = scaling_of(spec).hours
    notes = left_out.messages(window)
    if left_out.missing:
        notes.append(f"{left_out.missing} values equal to the missing-value marker "
                     f"{spec.extra.get('missing_value')} were read as not measured")
    if stay.n_measurements == 0:
        notes.append(f"no measurement of a variable this model reads in the first {window} h: the risk rests on "
                     "the static descriptors and the training means alone")
    elif stay.n_measurements < FEW_MEASUREMENTS:
        plural = "s" if stay.n_measurements > 1 else ""
        notes.append(f"only {stay.n_measurements} measurement{plural} in the first {window} h (fewer than "
                     f"{FEW_MEASUREMENTS}): the risk rests on little data")
    return notes


# ---- encoding ----------------------------------------------------------------------------
def encode(spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
    answers = encode_outputs(spec, outputs, batch)
    variables = vocabulary_of(spec).variables
    for answer, record in zip(answers, batch.records, strict=True):
        measured = {m["parameter"] for m in record["measurements"]}
        summary: dict[str, Any] = {"measurements": len(record["measurements"]),
                                   "variables_measured": len(measured), "variables_known": len(variables)}
        for key in ("id", "file"):
            if record.get(key) not in (None, ""):
                summary[key] = record[key]
        answer["input"] = summary
    return answers
