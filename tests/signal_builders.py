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
