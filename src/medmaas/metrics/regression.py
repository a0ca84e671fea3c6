"""Regression metrics, computed with scikit-learn, in the target's own unit (except R²)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    mean_absolute_error,
    median_absolute_error,
    r2_score,
    root_mean_squared_error,
)

from medmaas.exceptions import InvalidInputError
from medmaas.metrics import _inputs

REGRESSION_KEYS = ("mae", "rmse", "r2", "median_ae")


def regression_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Mean and median absolute error, root mean squared error and R².

    R² is NaN when ``y_true`` is constant (fewer than two distinct values): it divides by the
    target's variance, and scikit-learn's finite stand-in (1.0 or 0.0) would read as a result.

    >>> m = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.5, 4.0])
    >>> m["mae"], m["r2"]
    (0.25, 0.9)
    """
    y = _inputs.values(y_true, "y_true")
    pred = _inputs.values(y_pred, "y_pred")
    if pred.shape != y.shape:
        raise InvalidInputError(f"y_pred must have shape {y.shape} like y_true; got {pred.shape}")
    constant = bool(np.ptp(y) == 0.0)
    return {
        "mae": float(mean_absolute_error(y, pred)),
        "rmse": float(root_mean_squared_error(y, pred)),
        "r2": float("nan") if constant else float(r2_score(y, pred)),
        "median_ae": float(median_absolute_error(y, pred)),
    }
