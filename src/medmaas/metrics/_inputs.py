"""Checks shared by the metric functions: turn what came into clean arrays or say what is wrong.

They run once per bootstrap resample too, so each is a handful of vectorised numpy calls.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from medmaas.exceptions import InvalidInputError

# Probabilities from an ONNX graph are float32: rows sum to 1 only to about 1e-7, and a clipped
# or rounded export can drift further. Beyond this the input is not a probability table at all.
_ROW_SUM_TOLERANCE = 1e-3


def labels(y_true: ArrayLike, n_classes: int, name: str = "y_true") -> np.ndarray:
    """Class indices 0..n_classes-1 as an int64 vector."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional; got shape {y.shape}")
    if y.size == 0:
        raise InvalidInputError(f"{name} is empty; metrics need at least one row")
    if y.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"{name} must hold class indices 0..{n_classes - 1}; got dtype {y.dtype}"
        )
    out = y.astype(np.int64)
    if y.dtype.kind == "f" and not np.array_equal(out, y):
        raise InvalidInputError(f"{name} must hold whole class indices; got non-integer values")
    if out.min() < 0 or out.max() >= n_classes:
        raise InvalidInputError(
            f"{name} must hold class indices 0..{n_classes - 1}; "
            f"got values from {out.min()} to {out.max()}"
        )
    return out


def probabilities(p: ArrayLike, n_rows: int, name: str = "p_pos") -> np.ndarray:
    """A float64 vector of probabilities in [0, 1], one per row."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise InvalidInputError(f"{name} must have shape ({n_rows},); got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} must be finite; got NaN or infinity")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise InvalidInputError(
            f"{name} must be probabilities in [0, 1]; got values from {arr.min()} to {arr.max()}"
        )
    return arr


def probability_table(proba: ArrayLike, n_rows: int, name: str = "proba") -> np.ndarray:
    """An (n, k) float64 table whose rows are probability distributions, renormalised exactly."""
    arr = np.asarray(proba, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n_rows or arr.shape[1] < 2:
        raise InvalidInputError(
            f"{name} must have shape ({n_rows}, k) with k >= 2 classes; got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} must be finite; got NaN or infinity")
    if arr.min() < 0.0:
        raise InvalidInputError(f"{name} must be probabilities; got a negative value {arr.min()}")
    sums = arr.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _ROW_SUM_TOLERANCE:
        raise InvalidInputError(
            f"each row of {name} must sum to 1; row {worst} sums to {sums[worst]:.6g}"
        )
    # scikit-learn's log_loss warns when rows miss 1 by more than ~1e-8, which float32 does.
    return arr / sums[:, None]


def values(y: ArrayLike, name: str) -> np.ndarray:
    """A finite float64 vector (regression targets or predictions)."""
    arr = np.asarray(y, dtype=np.float64)
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidInputError(f"{name} is empty; metrics need at least one row")
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} must be finite; got NaN or infinity")
    return arr


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or NaN where the denominator is zero (an undefined rate)."""
    return numerator / denominator if denominator else float("nan")
