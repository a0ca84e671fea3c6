"""Split-conformal uncertainty calibrated on out-of-fold training predictions.

Each prediction then carries a set of classes (or an interval) that contains the truth with
the stated probability on exchangeable data — an uncertainty a clinician can read, rather than
a bare probability.
"""

from __future__ import annotations

import math

import numpy as np


def _quantile(scores: np.ndarray, alpha: float) -> float:
    n = len(scores)
    level = min(1.0, math.ceil((n + 1) * (1 - alpha)) / n)
    return float(np.quantile(scores, level, method="higher"))


def classification_quantile(oof_proba: np.ndarray, y: np.ndarray, alpha: float = 0.1) -> float:
    """Threshold q on 1 - P(true class): the prediction set is {c : 1 - P(c) <= q}.

    >>> classification_quantile(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 1]), 0.5)
    0.2
    """
    scores = 1.0 - oof_proba[np.arange(len(y)), y.astype(int)]
    return round(_quantile(scores, alpha), 6)


def regression_quantile(oof_pred: np.ndarray, y: np.ndarray, alpha: float = 0.1) -> float:
    """Half-width of the interval prediction ± q from absolute out-of-fold residuals."""
    return round(_quantile(np.abs(np.asarray(y, dtype=float) - oof_pred), alpha), 6)
