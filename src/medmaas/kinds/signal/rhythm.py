"""A recording's rhythm summary from its beat labels and R peaks: rate, regularity, ectopic
burden and runs — what a cardiologist reads first on a Holter report. A description of what
the beat classifier found, not a rhythm diagnosis (P waves are not analysed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: How each AAMI class is named in findings.
CLASS_NAMES = {"N": "normal or bundle-branch", "S": "supraventricular ectopic", "V": "ventricular ectopic",
               "F": "fusion", "Q": "paced or unclassifiable"}
#: Coefficient of variation of normal-to-normal intervals above which the rhythm is called
#: irregular (atrial fibrillation typically shows > 0.15; sinus rhythm at rest < 0.1).
IRREGULAR_CV = 0.15


def runs(labels: Sequence[str], label: str) -> list[int]:
    """Lengths of the runs of consecutive beats labelled ``label``.

    >>> runs(["N", "V", "V", "N", "V", "V", "V"], "V")
    [2, 3]
    """
    lengths, current = [], 0
    for item in labels:
        if item == label:
            current += 1
        elif current:
            lengths.append(current)
            current = 0
    if current:
        lengths.append(current)
    return lengths


def bigeminy_beats(labels: Sequence[str], ectopic: str) -> int:
    """Beats in stretches of at least three N-ectopic pairs in a row (bigeminy)."""
    pairs = [labels[i] == "N" and labels[i + 1] == ectopic for i in range(0, len(labels) - 1)]
    total, i = 0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j]:
            j += 2
        cycles = (j - i) // 2
        if cycles >= 3:
            total += 2 * cycles
            i = j
        else:
            i += 1
    return total


def summarise(labels: Sequence[str], peaks: np.ndarray, fs: float, classes: Sequence[str],
              uncertain: int = 0) -> dict[str, Any]:
    n = len(labels)
    counts = {c: 0 for c in classes}
    for item in labels:
        counts[item] = counts.get(item, 0) + 1
    rr = np.diff(np.asarray(peaks, dtype=np.float64)) / fs
    summary: dict[str, Any] = {"beats": n, "counts": counts,
                               "percent": {c: round(100 * k / n, 2) for c, k in counts.items()}}
    if len(rr):
        rate = 60.0 / rr
        summary["heart_rate_bpm"] = {"mean": round(60.0 / float(rr.mean()), 1),
                                     "min": round(float(np.percentile(rate, 2)), 1),
                                     "max": round(float(np.percentile(rate, 98)), 1)}
    normal_rr = np.array([rr[i] for i in range(len(rr)) if labels[i] == "N" and labels[i + 1] == "N"])
    if len(normal_rr) >= 5:
        cv = float(normal_rr.std() / normal_rr.mean())
        summary["nn_interval_cv"] = round(cv, 3)
        summary["regular"] = cv <= IRREGULAR_CV
    findings = []
    for label in ("V", "S"):
        if counts.get(label):
            lengths = runs(labels, label)
            summary[f"{label}_runs"] = {"longest": max(lengths), "couplets": lengths.count(2),
                                        "runs_of_3_or_more": sum(k >= 3 for k in lengths),
                                        "bigeminy_beats": bigeminy_beats(labels, label)}
            findings.append(f"{counts[label]} {CLASS_NAMES[label]} beats ({summary['percent'][label]}%)"
                            + (f", longest run {max(lengths)}" if max(lengths) >= 3 else ""))
    for label in ("F", "Q"):
        if counts.get(label):
            findings.append(f"{counts[label]} {CLASS_NAMES[label]} beats ({summary['percent'][label]}%)")
    if summary.get("regular") is False:
        findings.append(f"irregular normal-to-normal intervals (CV {summary['nn_interval_cv']})")
    summary["findings"] = findings or ["only normal beats found"]
    summary["uncertain_beats"] = uncertain
    return summary
