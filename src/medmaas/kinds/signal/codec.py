"""Serving side of the signal kind: recordings in (JSON samples or uploaded files), beats to
the network, and one answer per recording back — a label per beat and a rhythm summary.

Needs numpy, scipy and neurokit2 (R peaks); uploads of WFDB records also need wfdb (EDF is read with numpy).
The batch holds one row per beat; each beat's record points to its recording's facts, so
``encode`` can gather the beats of a recording again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import InvalidInputError, PayloadTooLargeError, SchemaError
from medmaas.kinds.base import Batch
from medmaas.kinds.signal.processing import Beats, beats_of
from medmaas.kinds.signal.rhythm import summarise
from medmaas.kinds.signal.waveform import Recording, check_duration, read_upload

MAX_RECORDINGS_PER_REQUEST = 16
ROW_FIELDS = frozenset({"signal", "sampling_rate", "units", "lead"})
#: Query parameters an upload may carry (the route passes them through).
FILE_OPTIONS = frozenset({"sampling_rate", "lead"})


def decode_rows(spec: ModelSpec, rows: Any) -> Batch:
    """``[{"signal": [mV, ...] | {"MLII": [...], ...}, "sampling_rate": 360}, ...]``: one
    recording per row."""
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes) or not rows:
        raise SchemaError('send {"rows": [{"signal": [...], "sampling_rate": 360}, ...]}: one object per '
                          "recording")
    if len(rows) > MAX_RECORDINGS_PER_REQUEST:
        raise PayloadTooLargeError(f"{len(rows)} recordings exceed the limit of {MAX_RECORDINGS_PER_REQUEST} "
                                   "per request")
    recordings = []
    for i, row in enumerate(rows):
        where = f"row {i}"
        if not isinstance(row, Mapping):
            raise SchemaError(f"{where}: each row must be an object with 'signal' and 'sampling_rate'")
        unknown = sorted(set(row) - ROW_FIELDS)
        if unknown:
            raise SchemaError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; a recording has "
                              f"{', '.join(sorted(ROW_FIELDS))}")
        recordings.append((_row_recording(row, where), row.get("lead"), where))
    return _batch(spec, recordings)


def decode_files(spec: ModelSpec, files: Mapping[str, bytes], options: Mapping[str, str]) -> Batch:
    """One uploaded recording: a WFDB record (header + data), EDF, CSV, or an archive of them."""
    unknown = sorted(set(options) - FILE_OPTIONS)
    if unknown:
        raise SchemaError(f"unknown option(s) {', '.join(map(repr, unknown))}; a recording upload takes "
                          f"{', '.join(sorted(FILE_OPTIONS))}")
    rate = options.get("sampling_rate")
    try:
        sampling_rate = float(rate) if rate not in (None, "") else None
    except ValueError:
        raise SchemaError(f"sampling_rate must be a number of Hz; got {rate!r}") from None
    recording = read_upload(files, sampling_rate=sampling_rate)
    where = ", ".join(sorted(files)) or "the upload"
    return _batch(spec, [(recording, options.get("lead"), where)])


def _row_recording(row: Mapping[str, Any], where: str) -> Recording:
    rate = row.get("sampling_rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise SchemaError(f"{where}: field 'sampling_rate' (Hz) is required and must be a number; got {rate!r}")
    signal = row.get("signal")
    if isinstance(signal, Mapping):
        if not signal:
            raise SchemaError(f"{where}: field 'signal' names no lead")
        leads = [str(k) for k in signal]
        columns = [_samples(v, f"{where} lead {k!r}") for k, v in signal.items()]
        if len({len(c) for c in columns}) != 1:
            raise SchemaError(f"{where}: the leads hold different numbers of samples "
                              f"({', '.join(f'{k}: {len(c)}' for k, c in zip(leads, columns, strict=True))})")
        samples = np.stack(columns, axis=1)
    else:
        samples = _samples(signal, f"{where} field 'signal'")[:, None]
        leads = [str(row.get("lead") or "lead")]
    return _recording(samples, rate, leads, str(row.get("units", "mV")), where)


def _recording(samples: np.ndarray, rate: float, leads: list[str], unit: str, where: str) -> Recording:
    check_duration(len(samples), float(rate), where)
    return Recording(signals=samples, fs=float(rate), leads=leads, units=[unit] * len(leads), source="json")


def decode_samples(spec: ModelSpec, samples: np.ndarray, sampling_rate: Any, *, lead: str | None = None,
                   units: str = "mV", where: str = "the recording") -> Batch:
    """One lead of one recording as an array of samples (NaN = a gap, as JSON null): the same
    checks and beats as a JSON row ``{"signal": [...], "sampling_rate": ...}``."""
    if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, int | float) or not sampling_rate > 0:
        raise SchemaError(f"{where}: sampling_rate (Hz) is required and must be a positive number; got "
                          f"{sampling_rate!r}")
    if samples.ndim != 1 or samples.size == 0:
        raise SchemaError(f"{where} must be a non-empty flat array of samples; got shape {list(samples.shape)}")
    recording = _recording(samples.astype(np.float64)[:, None], sampling_rate, [lead or "lead"], units, where)
    return _batch(spec, [(recording, lead, where)])


def _samples(value: Any, where: str) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise SchemaError(f"{where} must be a non-empty list of numbers (samples); got {type(value).__name__}")
    try:
        # None (JSON null) becomes NaN: a short gap is bridged, a long one refused by name.
        array = np.array(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise SchemaError(f"{where} must be a flat list of numbers (samples); got text or nested lists") from None
    if array.ndim != 1:
        raise SchemaError(f"{where} must be a flat list of numbers; got {array.ndim} dimensions")
    return array


def _batch(spec: ModelSpec, recordings: list[tuple[Recording, str | None, str]]) -> Batch:
    wanted = spec.extra.get("lead")
    windows, rhythm, records, warnings = [], [], [], []
    for index, (recording, lead, where) in enumerate(recordings):
        signal, used, notes = recording.lead(lead or wanted, where)
        beats, gap_notes = beats_of(signal, recording.fs, where=where)
        if len(beats.peaks) == 0:
            raise InvalidInputError(f"{where}: no heartbeat was found in {recording.seconds:.1f} s of lead "
                                    f"{used!r} — is it an ECG lead, in millivolts?")
        if not np.isfinite(beats.rhythm).all():  # one beat has no RR interval to measure
            raise InvalidInputError(f"{where}: one heartbeat was found in {recording.seconds:.1f} s of lead "
                                    f"{used!r}; the model reads each beat with the RR intervals around it, so it "
                                    "needs at least two — send a longer recording")
        _check_amplitude(beats, where)
        facts = {"recording": index, "lead": used, "sampling_rate": recording.fs,
                 "seconds": round(recording.seconds, 3), "source": recording.source,
                 "beats_at_edges_skipped": beats.skipped_at_edges,
                 "notes": [*recording.notes, *notes, *gap_notes], "peaks": beats.peaks}
        windows.append(beats.windows)
        rhythm.append(beats.rhythm)
        records += [facts] * len(beats.peaks)
        warnings += [facts["notes"]] * len(beats.peaks)
    return Batch(feeds={"beat": np.concatenate(windows), "rhythm": np.concatenate(rhythm)},
                 n=len(records), records=records, warnings=warnings)


def _check_amplitude(beats: Beats, where: str) -> None:
    # An ECG's QRS is ~0.5-3 mV; hundreds mean microvolts or raw ADC counts sent as mV.
    peak = float(np.median(np.abs(beats.windows[:, 40:56]).max(axis=1)))
    if peak > 50:
        raise InvalidInputError(f"{where}: the QRS complexes measure about {peak:.0f} units; an ECG's are "
                                "0.5-5 mV — send millivolts (or set units to 'uV'), not ADC counts")


def encode(spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
    """One answer per recording: every beat's label and probability, and the rhythm summary."""
    from medmaas.kinds.outputs import encode_outputs

    per_beat = encode_outputs(spec, outputs, batch)
    results: list[dict[str, Any]] = []
    start = 0
    while start < batch.n:
        facts = batch.records[start]
        stop = start + len(facts["peaks"])
        beats = per_beat[start:stop]
        peaks = facts["peaks"]
        fs = facts["sampling_rate"]
        labels = [b["prediction"] for b in beats]
        beat_items = [{"sample": int(p), "time_s": round(float(p) / fs, 3), "label": b["prediction"],
                       "probability": b["probabilities"][b["prediction"]],
                       **({"uncertain": b["uncertain"]} if "uncertain" in b else {})}
                      for p, b in zip(peaks, beats, strict=True)]
        results.append({
            "recording": {k: facts[k] for k in ("file", "lead", "sampling_rate", "seconds", "source",
                                                "beats_at_edges_skipped") if k in facts},
            "beats": beat_items,
            "summary": summarise(labels, peaks, fs, spec.output.classes or [],
                                 uncertain=sum(bool(b.get("uncertain")) for b in beats)),
            "warnings": list(facts["notes"]),
        })
        start = stop
    return results
