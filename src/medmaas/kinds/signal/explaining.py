"""Why a beat got its label: which part of the beat (occlusion over time: each 44 ms segment
flattened to the baseline in turn) and how much its timing (its RR intervals replaced by a
regular beat's at the local rate) moved the probability of the label. For a recording, the
beats worth a look are explained — the most certain of each abnormal class found, the least
certain, and one normal beat for comparison — and drawn as a PNG."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from medmaas._optional import optional_import
from medmaas.bundle.spec import ModelSpec
from medmaas.kinds.base import Batch, InferenceFn
from medmaas.kinds.signal.processing import BEFORE, MODEL_RATE, RR_FEATURES, WINDOW

SEGMENT = 8  # samples at 180 Hz: 44 ms, a fifth of a QRS-T complex
MAX_EXPLAINED_BEATS = 6


def explain_batch(spec: ModelSpec, run: InferenceFn, batch: Batch) -> list[dict[str, Any]]:
    output = spec.onnx.probability_output or "probabilities"
    classes = list(spec.output.classes or [])
    beats, rhythm = batch.feeds["beat"], batch.feeds["rhythm"]

    def probabilities(w: np.ndarray, r: np.ndarray) -> np.ndarray:
        return np.asarray(run({"beat": w.astype(np.float32), "rhythm": r.astype(np.float32)})[output])

    proba = probabilities(beats, rhythm)
    results, start = [], 0
    while start < batch.n:
        facts = batch.records[start]
        stop = start + len(facts["peaks"])
        rows = pick_beats(proba[start:stop], classes) + start
        explained = [_explain_beat(probabilities, beats[i], rhythm[i], proba[i], classes,
                                   time_s=float(facts["peaks"][i - start]) / facts["sampling_rate"])
                     for i in rows]
        item: dict[str, Any] = {
            "method": (f"occlusion over time: each {SEGMENT * 1000 // MODEL_RATE} ms of the beat flattened to "
                       "the baseline in turn, and the RR intervals replaced by a regular beat's; importance is "
                       "the fall in the probability of the beat's label"),
            "beats": explained,
        }
        try:
            item["png_base64"] = _png(beats[rows], explained)
        except ImportError:  # matplotlib is not installed: the numbers still explain
            item["png_base64"] = None
        results.append(item)
        start = stop
    return results


def pick_beats(proba: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """Positions of the beats to explain within one recording."""
    labels = proba.argmax(axis=1)
    picks: list[int] = []
    normal = classes.index("N") if "N" in classes else -1
    for c in range(len(classes)):
        members = np.flatnonzero(labels == c)
        if c != normal and len(members):
            picks.append(int(members[np.argmax(proba[members, c])]))
    least_sure = int(np.argmin(proba.max(axis=1)))
    if least_sure not in picks:
        picks.append(least_sure)
    normals = np.flatnonzero(labels == normal)
    if len(normals):
        picks.append(int(normals[np.argmax(proba[normals, normal])]))
    return np.array(sorted(dict.fromkeys(picks))[:MAX_EXPLAINED_BEATS], dtype=np.int64)


def _explain_beat(probabilities: Any, beat: np.ndarray, rr: np.ndarray, proba: np.ndarray,
                  classes: Sequence[str], time_s: float) -> dict[str, Any]:
    target = int(np.argmax(proba))
    starts = np.arange(0, WINDOW, SEGMENT)
    hidden = np.repeat(beat[None], len(starts), axis=0)
    for k, s in enumerate(starts):
        hidden[k, s:s + SEGMENT] = 0.0  # the band-passed baseline
    regular = regular_rhythm(rr)
    variants = np.concatenate([hidden, beat[None]])
    rr_variants = np.concatenate([np.repeat(rr[None], len(starts), axis=0), regular[None]])
    p = probabilities(variants, rr_variants)[:, target]
    reference = float(proba[target])
    return {
        "time_s": round(time_s, 3),
        "label": classes[target],
        "probability": round(reference, 6),
        "segments": [{"from_ms": round((s - BEFORE) * 1000 / MODEL_RATE), "to_ms": round((s + SEGMENT - BEFORE) * 1000 / MODEL_RATE),
                      "importance": round(reference - float(v), 5)} for s, v in zip(starts, p[:-1], strict=True)],
        "timing_importance": round(reference - float(p[-1]), 5),
        "rr_features": {name: round(float(v), 4) for name, v in zip(RR_FEATURES, rr, strict=True)},
    }


def regular_rhythm(rr: np.ndarray) -> np.ndarray:
    """The RR features of a beat that came exactly on time at the local rate."""
    local = float(rr[2])
    return np.array([local, local, local, 1.0, 1.0], dtype=np.float32)


def _png(beats: np.ndarray, explained: list[dict[str, Any]]) -> str:
    """One panel per explained beat: the waveform, with the segments that raised its label's
    probability shaded in proportion to their importance."""
    import base64

    optional_import("matplotlib", "signals")
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in server threads

    n = len(explained)
    figure = Figure(figsize=(2.6 * n, 2.6), dpi=100)
    axes = figure.subplots(1, n, squeeze=False, sharey=True)[0]
    t_ms = (np.arange(WINDOW) - BEFORE) * 1000 / MODEL_RATE
    scale = max((max(s["importance"] for s in e["segments"]) for e in explained), default=0.0)
    for ax, beat, item in zip(axes, beats, explained, strict=True):
        for segment in item["segments"]:
            if scale > 0 and segment["importance"] > 0:
                ax.axvspan(segment["from_ms"], segment["to_ms"], color="tab:red", lw=0,
                           alpha=0.6 * segment["importance"] / scale)
        ax.plot(t_ms, beat, color="black", lw=1.0)
        ax.set_title(f"{item['time_s']:.1f} s: {item['label']} ({item['probability']:.2f})\n"
                     f"timing {item['timing_importance']:+.2f}", fontsize=8)
        ax.set_xlabel("ms from R", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0].set_ylabel("mV (band-passed)", fontsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return base64.b64encode(out.getvalue()).decode("ascii")
