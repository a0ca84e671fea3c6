"""Calibration: do predicted probabilities match observed frequencies?

A model can rank patients well (high AUROC) and still say "30 %" to a group in which 10 % have
the outcome; clinicians read the number, so the card shows the reliability curve and its ECE.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.calibration import calibration_curve

from medmaas.exceptions import InvalidInputError
from medmaas.metrics import _inputs

Strategy = Literal["uniform", "quantile"]


def reliability_curve(
    y_true: ArrayLike,
    p_pos: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Strategy = "quantile",
) -> dict[str, list[float]]:
    """Mean predicted probability, observed fraction positive and row count per non-empty bin.

    ``quantile`` bins hold about equal numbers of rows, so each point rests on the same evidence;
    ``uniform`` bins split [0, 1] into equal widths (the classic reliability diagram).
    Bins are ordered by predicted probability; empty bins are left out.

    >>> curve = reliability_curve([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)
    >>> curve["fraction_positive"], curve["count"]
    ([0.0, 1.0], [2, 2])
    """
    y = _inputs.labels(y_true, 2)
    p = _inputs.probabilities(p_pos, y.shape[0])
    if n_bins < 1:
        raise InvalidInputError(f"n_bins must be >= 1; got {n_bins}")
    if strategy not in ("uniform", "quantile"):
        raise InvalidInputError(f"strategy must be 'uniform' or 'quantile'; got {strategy!r}")
    fraction, mean_predicted = calibration_curve(
        y, p, pos_label=1, n_bins=n_bins, strategy=strategy
    )
    # calibration_curve does not return its bin sizes; these are its own edges and assignment
    # rule, so the non-empty bins line up one to one with its output.
    if strategy == "quantile":
        edges = np.percentile(p, np.linspace(0.0, 100.0, n_bins + 1))
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=n_bins)
    counts = counts[counts > 0]
    if counts.shape != fraction.shape:
        raise RuntimeError(
            "reliability_curve: bin counts no longer match scikit-learn's calibration_curve; "
            "its binning rule has changed"
        )
    return {
        "mean_predicted": [float(v) for v in mean_predicted],
        "fraction_positive": [float(v) for v in fraction],
        "count": [int(v) for v in counts],
    }


def expected_calibration_error(
    y_true: ArrayLike,
    p_pos: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Strategy = "uniform",
) -> float:
    """Expected calibration error: the row-weighted mean gap |observed - predicted| over bins.

    0 is perfect; 0.05 means predictions are off by five percentage points on average. The
    default, ten equal-width bins, is the definition most papers report.

    >>> expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2)
    0.175
    """
    curve = reliability_curve(y_true, p_pos, n_bins=n_bins, strategy=strategy)
    count = np.asarray(curve["count"], dtype=np.float64)
    gap = np.abs(np.asarray(curve["fraction_positive"]) - np.asarray(curve["mean_predicted"]))
    return float(np.sum(count * gap) / count.sum())
