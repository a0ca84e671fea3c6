"""From a raw ECG lead to beats: resampling, band-pass filtering, R-peak detection and beat
windows with their RR intervals. Training and serving call the same functions, so a beat the
server sees was cut exactly as the beats the model learned from.

Needs numpy, scipy and neurokit2 (its R-peak detector), not the training stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from medmaas.exceptions import InvalidInputError

#: Every lead is resampled to this rate: 180 Hz keeps the ECG's diagnostic band (< 40 Hz here)
#: with room to spare and halves the work of MIT-BIH's 360 Hz.
MODEL_RATE = 180
#: The beat window around each R peak: 48 samples (0.27 s) before, 80 (0.44 s) from it on —
#: the P wave before, the QRS and the T wave after, at normal rates.
BEFORE, AFTER = 48, 80
WINDOW = BEFORE + AFTER
#: Band-pass: 0.5 Hz removes baseline wander (breathing, electrode motion); 40 Hz removes
#: muscle noise and mains hum (50/60 Hz) while keeping the QRS's energy.
BAND_HZ = (0.5, 40.0)
#: Gaps (NaN) up to this long are bridged by linear interpolation; longer ones are refused.
MAX_GAP_S = 0.2
#: A recording must hold at least this much signal: a beat window plus the filter's settling.
MIN_SECONDS = 2.0
#: RR features per beat (see ``rr_features``).
RR_FEATURES = ("pre_rr_s", "post_rr_s", "local_rr_s", "pre_to_local", "post_to_pre")
#: Beats either side whose RR intervals make the local rhythm (about 20 s at 60/min).
LOCAL_BEATS = 10


@dataclass(frozen=True)
class Beats:
    """The beats of one lead: windows (n, WINDOW) in mV at MODEL_RATE, RR features (n, 5), and
    where each R peak lies, in samples of the recording's own rate."""

    windows: np.ndarray
    rhythm: np.ndarray
    peaks: np.ndarray
    skipped_at_edges: int


def bridge_gaps(signal: np.ndarray, fs: float, where: str) -> tuple[np.ndarray, list[str]]:
    """Interpolate short NaN runs; refuse long ones, naming the first (in seconds)."""
    missing = ~np.isfinite(signal)
    if not missing.any():
        return signal, []
    if missing.all():
        raise InvalidInputError(f"{where}: every sample is missing (NaN)")
    edges = np.diff(np.concatenate([[0], missing.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))
    if (ends[longest] - starts[longest]) / fs > MAX_GAP_S:
        raise InvalidInputError(
            f"{where}: {ends[longest] - starts[longest]} missing samples (NaN) in a row from "
            f"{starts[longest] / fs:.2f} s; gaps longer than {MAX_GAP_S} s can't be bridged — send the "
            "segments either side as separate recordings")
    index = np.arange(len(signal))
    filled = signal.copy()
    filled[missing] = np.interp(index[missing], index[~missing], signal[~missing])
    note = f"{int(missing.sum())} missing samples in {len(starts)} short gap(s) were interpolated"
    return filled, [note]


def resample(signal: np.ndarray, fs: float) -> np.ndarray:
    """The lead at MODEL_RATE (polyphase filtering, so no aliasing from higher rates)."""
    from scipy.signal import resample_poly

    if fs == MODEL_RATE:
        return signal.astype(np.float64, copy=False)
    ratio = Fraction(MODEL_RATE / fs).limit_denominator(1000)
    return resample_poly(signal.astype(np.float64, copy=False), ratio.numerator, ratio.denominator)


def bandpass(signal: np.ndarray) -> np.ndarray:
    """Zero-phase Butterworth band-pass at MODEL_RATE (filtfilt: no shift of the R peak)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(3, BAND_HZ, btype="bandpass", fs=MODEL_RATE, output="sos")
    return sosfiltfilt(sos, signal)


def detect_peaks(filtered: np.ndarray) -> np.ndarray:
    """R-peak positions (samples at MODEL_RATE) by NeuroKit2's default detector (steep QRS
    slopes; sensitivity 0.997 / PPV 0.999 on MIT-BIH record 208 at 360 Hz)."""
    import neurokit2 as nk

    if len(filtered) < MIN_SECONDS * MODEL_RATE:
        return np.zeros(0, dtype=np.int64)
    _, info = nk.ecg_peaks(filtered, sampling_rate=MODEL_RATE, method="neurokit")
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def rr_features(peaks: np.ndarray) -> np.ndarray:
    """Per beat: RR interval before and after (s), the local mean RR of LOCAL_BEATS intervals
    either side, and two ratios. The ratios tell a premature beat (short before, long after)
    whatever the patient's own rate — what lets a model generalise across patients."""
    n = len(peaks)
    if n < 2:
        return np.full((n, len(RR_FEATURES)), np.nan)
    rr = np.diff(peaks) / MODEL_RATE
    pre = np.concatenate([[rr[0]], rr])
    post = np.concatenate([rr, [rr[-1]]])
    # Mean of intervals within LOCAL_BEATS either side, by cumulative sums (one pass).
    padded = np.concatenate([[0.0], np.cumsum(rr)])
    lo = np.clip(np.arange(n) - LOCAL_BEATS, 0, len(rr))
    hi = np.clip(np.arange(n) + LOCAL_BEATS, 0, len(rr))
    local = (padded[hi] - padded[lo]) / np.maximum(hi - lo, 1)
    return np.stack([pre, post, local, pre / local, post / pre], axis=1)


def cut_beats(filtered: np.ndarray, peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows around the peaks that fit inside the signal, and which peaks those are."""
    inside = (peaks >= BEFORE) & (peaks + AFTER <= len(filtered))
    kept = np.flatnonzero(inside)
    if len(kept) == 0:
        return np.zeros((0, WINDOW), dtype=np.float32), kept
    offsets = np.arange(-BEFORE, AFTER)
    windows = filtered[peaks[kept][:, None] + offsets[None, :]]
    return windows.astype(np.float32), kept


def beats_of(lead: np.ndarray, fs: float, *, where: str,
             peaks_at: np.ndarray | None = None) -> tuple[Beats, list[str]]:
    """The beats of one lead sampled at ``fs``, by the detector or at given R-peak positions
    (``peaks_at``, samples at ``fs``: a reference annotation)."""
    if lead.ndim != 1:
        raise InvalidInputError(f"{where}: one lead is a 1-D series of samples; got shape {lead.shape}")
    if not np.isfinite(fs) or fs < 50 or fs > 10_000:
        raise InvalidInputError(f"{where}: sampling rate {fs} Hz is not an ECG rate; send 50 to 10,000 Hz")
    lead, notes = bridge_gaps(lead, fs, where)
    if len(lead) / fs < MIN_SECONDS:
        raise InvalidInputError(f"{where}: the recording lasts {len(lead) / fs:.2f} s; at least "
                                f"{MIN_SECONDS:g} s is needed to find and cut one beat")
    filtered = bandpass(resample(lead, fs))
    if peaks_at is None:
        peaks = detect_peaks(filtered)
    else:
        peaks = np.round(np.asarray(peaks_at, dtype=np.float64) * MODEL_RATE / fs).astype(np.int64)
    rhythm = rr_features(peaks)
    windows, kept = cut_beats(filtered, peaks)
    beats = Beats(windows=windows, rhythm=rhythm[kept].astype(np.float32),
                  peaks=np.round(peaks[kept] * fs / MODEL_RATE).astype(np.int64),
                  skipped_at_edges=len(peaks) - len(kept))
    return beats, notes
