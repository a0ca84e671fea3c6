"""Percentile bootstrap confidence intervals for any function that returns named metrics."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import sklearn
from numpy.typing import ArrayLike

from medmaas.bundle.card import MetricValue
from medmaas.exceptions import InvalidInputError

MetricFn = Callable[[np.ndarray, np.ndarray], Mapping[str, float | None]]

# A CI from the resamples where a metric happened to be defined is biased towards the rows that
# make it defined; below this share of defined resamples we report no interval at all.
MIN_DEFINED_SHARE = 0.5


def bootstrap_ci(
    metric_fn: MetricFn,
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    stratify: bool = True,
) -> dict[str, MetricValue]:
    """Point estimate and percentile bootstrap (1 - alpha) CI for every metric ``metric_fn`` returns.

    Rows are resampled with replacement, ``n_boot`` times, and ``metric_fn(y_true[idx],
    y_score[idx])`` is recomputed on each resample. ``y_score`` may be a vector or an (n, k)
    table. With ``stratify`` (for classification) each class is resampled within itself, so every
    resample keeps the observed class counts and AUROC stays defined; pass ``stratify=False`` for
    regression targets. Undefined values (NaN or None) are left out of the percentiles; a metric
    defined in fewer than half the resamples gets no interval. The same ``seed`` gives the same
    intervals.

    >>> from medmaas.metrics.regression import regression_metrics
    >>> ci = bootstrap_ci(regression_metrics, [1.0, 2.0, 3.0, 4.0, 5.0], [1.1, 2.3, 2.8, 4.2, 4.9],
    ...                   n_boot=200, stratify=False)
    >>> ci["mae"].ci_low <= ci["mae"].value <= ci["mae"].ci_high
    True
    """
    y = np.asarray(y_true)
    score = np.asarray(y_score)
    if y.ndim != 1 or y.shape[0] == 0 or score.shape[:1] != y.shape:
        raise InvalidInputError(
            f"y_true must be a non-empty vector and y_score have as many rows; "
            f"got shapes {y.shape} and {score.shape}"
        )
    if n_boot < 0:
        raise InvalidInputError(f"n_boot must be >= 0; got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must lie strictly between 0 and 1; got {alpha}")

    point = {key: _as_float(value) for key, value in metric_fn(y, score).items()}
    if n_boot == 0:
        return {key: MetricValue(value=_or_none(value)) for key, value in point.items()}

    keys = list(point)
    strata = _strata(y) if stratify else [np.arange(y.shape[0])]
    rng = np.random.default_rng(seed)
    draws = np.empty((n_boot, len(keys)))
    # The point estimate above has already passed the rows through every check; a resample holds
    # only those rows, so scikit-learn's per-call parameter validation (15% of the time) is moot.
    with sklearn.config_context(skip_parameter_validation=True):
        for b in range(n_boot):
            # One resample at a time keeps memory at O(n) for large test sets; the stream of
            # draws, and so the result, depends only on the seed.
            idx = np.concatenate(
                [members[rng.integers(0, members.size, members.size)] for members in strata]
            )
            result = metric_fn(y[idx], score[idx])
            draws[b] = [_as_float(result.get(key)) for key in keys]

    out: dict[str, MetricValue] = {}
    for j, key in enumerate(keys):
        column = draws[:, j]
        defined = column[~np.isnan(column)]
        if math.isnan(point[key]) or defined.size < MIN_DEFINED_SHARE * n_boot:
            out[key] = MetricValue(value=_or_none(point[key]))
            continue
        low, high = np.quantile(defined, [alpha / 2.0, 1.0 - alpha / 2.0])
        out[key] = MetricValue(value=point[key], ci_low=float(low), ci_high=float(high))
    return out


def _strata(y: np.ndarray) -> list[np.ndarray]:
    """Row indices of each class; refuses continuous targets, where every row is its own class."""
    if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
        raise InvalidInputError(
            "stratify=True resamples within classes, but y_true holds non-integer values; "
            "pass stratify=False for a regression target"
        )
    _, inverse = np.unique(y, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def _as_float(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _or_none(value: float) -> float | None:
    return None if math.isnan(value) else value
