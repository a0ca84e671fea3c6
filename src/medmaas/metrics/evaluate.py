"""One call from hold-out predictions to the model card's ``Evaluation``.

Metrics carry bootstrap CIs; binary models get a confusion matrix at their operating threshold
and a reliability curve; each subgroup variable (sex, age band, site) gets its own metrics, so a
reviewer sees where the model does worse. Values are stored unrounded; rounding is the
renderer's job.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix

from medmaas.bundle.card import Evaluation, MetricValue, SubgroupResult
from medmaas.exceptions import InvalidInputError
from medmaas.metrics import _inputs
from medmaas.metrics.bootstrap import MetricFn, bootstrap_ci
from medmaas.metrics.calibration import expected_calibration_error, reliability_curve
from medmaas.metrics.classification import binary_metrics, multiclass_metrics
from medmaas.metrics.regression import regression_metrics

logger = logging.getLogger(__name__)

Task = Literal["classification", "regression"]

# Below this a subgroup's estimates are noise with a CI; we report its size and no numbers.
MIN_SUBGROUP_ROWS = 10
MISSING_GROUP = "missing"


SUBGROUP_BOOTSTRAP = 200


def evaluate(
    task: Task,
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    classes: Sequence[str] = (),
    threshold: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    groups: Mapping[str, ArrayLike] | None = None,
    split_description: str,
    n_train: int,
) -> Evaluation:
    """Evaluate hold-out predictions: metrics with 95% CIs, calibration, confusion, subgroups.

    ``task`` is ``"classification"`` (``y_true`` class indices into ``classes``) or
    ``"regression"``. ``scores`` is P(``classes[1]``) as (n,) or (n, 2) for two classes, the
    (n, k) probability table for k > 2, or the predicted values for regression. ``threshold``
    (binary only, default 0.5) is the operating point; choose it on out-of-fold training
    predictions (``youden_threshold``), never on these rows. Binary and multiclass metrics
    include ``ece``, the expected calibration error (top-label for k > 2). A proportion whose
    bootstrap interval collapses to a point (all positives detected, say) gets its Wilson score
    interval instead, so 72/72 reads 0.95-1.00, not 1.00-1.00. ``groups`` maps a
    variable name to one value per row; subgroups with fewer than 10 rows or a single class are
    reported with their size and no metrics.

    >>> ev = evaluate("classification", [0, 1, 0, 1], [0.2, 0.9, 0.4, 0.6], classes=["no", "yes"],
    ...               n_boot=0, split_description="random 20% hold-out", n_train=16)
    >>> ev.metrics["auroc"].value, ev.confusion_matrix
    (1.0, [[2, 0], [0, 2]])
    """
    if n_train < 0:
        raise InvalidInputError(f"n_train must be >= 0; got {n_train}")
    if task == "regression":
        y = _inputs.values(y_true, "y_true")
        score = _inputs.values(scores, "scores")
        if score.shape != y.shape:
            raise InvalidInputError(
                f"scores must have shape {y.shape} like y_true; got {score.shape}"
            )
        if threshold is not None:
            raise InvalidInputError("threshold applies to binary classification, not regression")
        metric_fn: MetricFn = regression_metrics
        stratify = False
        calibration: dict[str, list[float]] = {}
        matrix = None
        called: np.ndarray | None = None
    elif task == "classification":
        if len(classes) < 2:
            raise InvalidInputError(
                f"classification needs the names of at least two classes; got {list(classes)}"
            )
        y = _inputs.labels(y_true, len(classes))
        stratify = True
        if len(classes) == 2:
            score = _binary_scores(scores, y.shape[0])
            threshold = 0.5 if threshold is None else float(threshold)
            if not 0.0 <= threshold <= 1.0:
                raise InvalidInputError(f"threshold must lie in [0, 1]; got {threshold}")
            metric_fn = functools.partial(_binary_with_ece, threshold=threshold)
            called = (score >= threshold).astype(np.int64)
            calibration = reliability_curve(y, score) if _has_both(y) else {}
        else:
            if threshold is not None:
                raise InvalidInputError(
                    f"threshold applies to binary classification; got {len(classes)} classes"
                )
            score = _inputs.probability_table(scores, y.shape[0], "scores")
            metric_fn = functools.partial(_multiclass_with_ece, classes=list(classes))
            called = score.argmax(axis=1)
            # Top-label calibration: is the model right as often as its top probability says?
            calibration = reliability_curve(called == y, score.max(axis=1))
        matrix = confusion_matrix(y, called, labels=np.arange(len(classes))).tolist()
    else:
        raise InvalidInputError(f"task must be 'classification' or 'regression'; got {task!r}")

    metrics = _estimate(metric_fn, y, score, called, n_boot=n_boot, seed=seed, stratify=stratify)
    # Subgroups are small, so their intervals are wide whatever the resample count; 200
    # resamples give those wide intervals to two digits at a fifth of the cost.
    subgroups = _subgroups(
        groups or {}, y, score, called, metric_fn, list(metrics), task,
        n_boot=min(n_boot, SUBGROUP_BOOTSTRAP), seed=seed,
    )
    return Evaluation(
        split=split_description,
        n_train=n_train,
        n_test=int(y.shape[0]),
        metrics=metrics,
        calibration=calibration,
        confusion_matrix=matrix,
        threshold=threshold,
        subgroups=subgroups,
    )


def _estimate(
    metric_fn: MetricFn,
    y: np.ndarray,
    score: np.ndarray,
    called: np.ndarray | None,
    *,
    n_boot: int,
    seed: int,
    stratify: bool,
) -> dict[str, MetricValue]:
    metrics = bootstrap_ci(metric_fn, y, score, n_boot=n_boot, seed=seed, stratify=stratify)
    if called is not None:
        _wilson_where_collapsed(metrics, y, called)
    return metrics


def _wilson_where_collapsed(
    metrics: dict[str, MetricValue], y: np.ndarray, called: np.ndarray
) -> None:
    """Replace a zero-width bootstrap interval of a proportion by its Wilson score interval.

    When every positive is detected, every (stratified) resample detects every positive too, and
    the percentile interval reads "1.000 (95% CI 1.000-1.000)": certainty the data do not give.
    72 of 72 supports a sensitivity down to about 0.95, which is what the Wilson interval says.
    """
    right = called == y
    n = y.shape[0]
    counts = {"accuracy": (int(np.count_nonzero(right)), n)}
    if metrics.keys() >= {"sensitivity", "specificity", "ppv", "npv"}:
        positive, yes = y == 1, called == 1
        tp = int(np.count_nonzero(yes & positive))
        tn = int(np.count_nonzero(~yes & ~positive))
        n_pos, n_yes = int(np.count_nonzero(positive)), int(np.count_nonzero(yes))
        counts |= {
            "sensitivity": (tp, n_pos),
            "specificity": (tn, n - n_pos),
            "ppv": (tp, n_yes),
            "npv": (tn, n - n_yes),
        }
    for key, (hits, total) in counts.items():
        mv = metrics.get(key)
        if (
            mv is None
            or mv.value is None
            or mv.ci_low is None
            or mv.ci_low != mv.ci_high
            or not total
        ):
            continue
        ci = binomtest(hits, total).proportion_ci(confidence_level=0.95, method="wilson")
        metrics[key] = MetricValue(value=mv.value, ci_low=float(ci.low), ci_high=float(ci.high))


def _binary_scores(scores: ArrayLike, n_rows: int) -> np.ndarray:
    arr = np.asarray(scores)
    if arr.ndim == 2 and arr.shape[1] == 2:
        # The (n, 2) table of predict_proba: column 1 is P(classes[1]).
        arr = arr[:, 1]
    return _inputs.probabilities(arr, n_rows, "scores")


def _has_both(y: np.ndarray) -> bool:
    return 0 < int(np.count_nonzero(y)) < y.shape[0]


def _binary_with_ece(y: np.ndarray, p: np.ndarray, *, threshold: float) -> dict[str, float]:
    out = binary_metrics(y, p, threshold)
    out["ece"] = expected_calibration_error(y, p)
    return out


def _multiclass_with_ece(
    y: np.ndarray, proba: np.ndarray, *, classes: list[str]
) -> dict[str, float]:
    out = multiclass_metrics(y, proba, classes)
    top = proba.argmax(axis=1)
    out["ece"] = expected_calibration_error(top == y, proba.max(axis=1))
    return out


def _subgroups(
    groups: Mapping[str, ArrayLike],
    y: np.ndarray,
    score: np.ndarray,
    called: np.ndarray | None,
    metric_fn: MetricFn,
    keys: list[str],
    task: Task,
    *,
    n_boot: int,
    seed: int,
) -> list[SubgroupResult]:
    results: list[SubgroupResult] = []
    for variable, raw in groups.items():
        labels = _group_labels(variable, raw, y.shape[0])
        for group in _ordered(labels):
            rows = labels == group
            n = int(np.count_nonzero(rows))
            estimable = n >= MIN_SUBGROUP_ROWS and (
                task == "regression" or np.unique(y[rows]).size > 1
            )
            if estimable:
                metrics = _estimate(
                    metric_fn,
                    y[rows],
                    score[rows],
                    None if called is None else called[rows],
                    n_boot=n_boot,
                    seed=seed,
                    stratify=task == "classification",
                )
            else:
                logger.debug(
                    "subgroup %s=%s (n=%d) too small or single-class; no metrics",
                    variable,
                    group,
                    n,
                )
                metrics = {key: MetricValue(value=None) for key in keys}
            results.append(SubgroupResult(variable=variable, group=group, n=n, metrics=metrics))
    return results


def _group_labels(variable: str, raw: ArrayLike, n_rows: int) -> np.ndarray:
    """One string label per row; missing values (None, NaN) form their own group."""
    series = (
        raw.reset_index(drop=True)
        if isinstance(raw, pd.Series)
        else pd.Series(np.asarray(raw, dtype=object))
    )
    if series.ndim != 1 or len(series) != n_rows:
        raise InvalidInputError(
            f"groups[{variable!r}] must hold one value per test row ({n_rows}); got {len(series)}"
        )
    missing = series.isna().to_numpy()
    labels = np.array([_label(v) for v in series.to_numpy(dtype=object)], dtype=object)
    labels[missing] = MISSING_GROUP
    return labels


def _label(value: object) -> str:
    # 1.0 from a float column reads as "1" on the card, like the integer it stands for.
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _ordered(labels: np.ndarray) -> list[str]:
    """Group names sorted numerically where they are numbers, then by name; missing last."""
    names = {str(v) for v in labels} - {MISSING_GROUP}

    def key(name: str) -> tuple[int, float, str]:
        try:
            return (0, float(name), name)
        except ValueError:
            return (1, 0.0, name)

    ordered = sorted(names, key=key)
    return ordered + ([MISSING_GROUP] if MISSING_GROUP in set(labels) else [])
