"""Synthetic ECG for tests: a normal beat and a premature ventricular beat drawn as sums of
Gaussian waves, with baseline wander and noise, written as annotated WFDB records."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

#: (amplitude mV, centre s from R, width s) of the P, Q, R, S and T waves
NORMAL = [(0.15, -0.16, 0.025), (-0.1, -0.03, 0.008), (1.2, 0.0, 0.01), (-0.25, 0.03, 0.01), (0.3, 0.25, 0.05)]
VENTRICULAR = [(1.5, 0.0, 0.035), (-0.6, 0.08, 0.03), (-0.4, 0.3, 0.07)]


def synthetic_ecg(seconds: float = 60.0, fs: float = 360.0, rate: float = 72.0, v_every: int = 5,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(signal in mV, R-peak samples, MIT-BIH symbols): every ``v_every``-th beat premature
    and ventricular, followed by a compensatory pause."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    signal = 0.1 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, 0.015, n)
    rr = 60.0 / rate
    peaks, symbols, at, k = [], [], 0.5, 0
    while at < seconds - 0.5:
        ventricular = v_every > 0 and k % v_every == v_every - 1
        if ventricular:
            at -= 0.4 * rr  # premature
        waves = VENTRICULAR if ventricular else NORMAL
        for amplitude, centre, width in waves:
            signal += amplitude * np.exp(-0.5 * ((t - at - centre) / width) ** 2)
        peaks.append(int(round(at * fs)))
        symbols.append("V" if ventricular else "N")
        at += rr * (1.4 if ventricular else 1.0) * rng.uniform(0.97, 1.03)
        k += 1
    return signal, np.array(peaks), symbols


def write_record(folder: Path, name: str, seconds: float = 60.0, fs: int = 360, seed: int = 0,
                 v_every: int = 5) -> Path:
    """An annotated WFDB record (format 16, one lead 'MLII') in ``folder``."""
    import wfdb

    signal, peaks, symbols = synthetic_ecg(seconds, fs, v_every=v_every, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=["mV"], sig_name=["MLII"], p_signal=signal[:, None], fmt=["16"],
                write_dir=str(folder))
    wfdb.wrann(name, "atr", peaks, symbol=symbols, write_dir=str(folder))
    return folder / name


def beat_dataset(n_records: int = 6, seconds: float = 60.0, seed: int = 0):  # type: ignore[no-untyped-def]
    """A BeatDataset read from synthetic records through the real reader."""
    from medmaas.kinds.signal.reading import read_beat_dataset

    with tempfile.TemporaryDirectory(prefix="medmaas-ecg-") as tmp:
        for i in range(n_records):
            write_record(Path(tmp), f"s{i:02d}", seconds=seconds, seed=seed * 100 + i, v_every=4 + i % 3)
        return read_beat_dataset(Path(tmp), name="synthetic-ecg")


def record_files(seconds: float = 10.0, fs: int = 360, name: str = "rec", seed: int = 0) -> dict[str, bytes]:
    """A WFDB record (header and format-16 data file) as an upload holds it: bytes by file name."""
    with tempfile.TemporaryDirectory(prefix="medmaas-ecg-") as tmp:
        write_record(Path(tmp), name, seconds=seconds, fs=fs, seed=seed)
        return {f"{name}.hea": (Path(tmp) / f"{name}.hea").read_bytes(),
                f"{name}.dat": (Path(tmp) / f"{name}.dat").read_bytes()}


#: The fixed EDF header fields, in order, with their widths (EDF spec, www.edfplus.info).
EDF_FIELDS = (("version", 8), ("patient", 80), ("recording", 80), ("startdate", 8), ("starttime", 8),
              ("header_bytes", 8), ("reserved", 44), ("records", 8), ("duration", 8), ("signals", 4))
#: The per-signal fields, in order, with their widths.
EDF_SIGNAL_FIELDS = (("label", 16), ("transducer", 80), ("dimension", 8), ("physical_min", 8),
                     ("physical_max", 8), ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80),
                     ("samples", 8), ("reserved", 32))


def edf_bytes(signals: np.ndarray, fs: int, *, labels: list[str] | None = None, units: str = "mV",
              record_seconds: int = 1, fields: dict[str, str] | None = None,
              signal_fields: dict[str, list[str]] | None = None) -> bytes:
    """An EDF file of ``signals`` (n, k) in ``units`` at ``fs`` Hz, written in memory; ``fields``
    and ``signal_fields`` replace header texts (valid or not) by the names in ``EDF_FIELDS`` and
    ``EDF_SIGNAL_FIELDS``, one text per signal for the latter."""
    n, k = signals.shape
    per_record = fs * record_seconds
    records = -(-n // per_record)
    padded = np.zeros((records * per_record, k))
    padded[:n] = signals
    low, high = float(signals.min()), float(signals.max())
    low, high = float(f"{low:.5g}") - 0.01, float(f"{high:.5g}") + 0.01
    digital = np.round((padded - low) / (high - low) * 65535 - 32768).clip(-32768, 32767).astype("<i2")
    fixed = {"version": "0", "patient": "X X X X", "recording": "Startdate X X X X", "startdate": "01.01.20",
             "starttime": "00.00.00", "header_bytes": str(256 * (k + 1)), "reserved": "", "records": str(records),
             "duration": str(record_seconds), "signals": str(k)} | (fields or {})
    per_signal = {"label": labels or [f"lead {i + 1}" for i in range(k)], "transducer": [""] * k,
                  "dimension": [units] * k, "physical_min": [f"{low:.6g}"] * k, "physical_max": [f"{high:.6g}"] * k,
                  "digital_min": ["-32768"] * k, "digital_max": ["32767"] * k, "prefiltering": [""] * k,
                  "samples": [str(per_record)] * k, "reserved": [""] * k} | (signal_fields or {})

    def field(text: str, width: int) -> bytes:
        return text.encode("latin-1", errors="replace")[:width].ljust(width)

    head = b"".join(field(fixed[name], width) for name, width in EDF_FIELDS)
    head += b"".join(field(text, width) for name, width in EDF_SIGNAL_FIELDS for text in per_signal[name])
    body = digital.reshape(records, per_record, k).transpose(0, 2, 1).tobytes()
    return head + body
