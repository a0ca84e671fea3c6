"""Classification metrics a clinical reviewer expects, computed with scikit-learn.

Every function returns plain floats, with NaN where a metric is undefined for the rows given
(no positives, nothing predicted positive, a class missing). An undefined value is a fact about
the sample, not an error: bootstrap resamples and small subgroups hit it routinely, so nothing
here warns or raises for it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import auc, average_precision_score, roc_curve

from medmaas.exceptions import InvalidInputError
from medmaas.metrics import _inputs

NAN = float("nan")
_EPS = float(np.finfo(np.float64).eps)

BINARY_KEYS = (
    "auroc",
    "auprc",
    "accuracy",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "brier",
)


def binary_metrics(y_true: ArrayLike, p_pos: ArrayLike, threshold: float = 0.5) -> dict[str, float]:
    """Discrimination, threshold and calibration metrics of a binary classifier.

    A row is called positive when ``p_pos >= threshold``. ``auprc`` is scikit-learn's average
    precision; ``brier`` the mean squared error of ``p_pos``. Undefined values are NaN.

    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> round(m["auroc"], 2), m["sensitivity"], m["specificity"]
    (0.75, 0.5, 0.5)
    >>> binary_metrics([0, 0], [0.2, 0.3])["auroc"]
    nan
    """
    y = _inputs.labels(y_true, 2)
    p = _inputs.probabilities(p_pos, y.shape[0])
    positive = y == 1
    called = p >= threshold
    n_pos = int(np.count_nonzero(positive))
    n_neg = y.shape[0] - n_pos
    n_called = int(np.count_nonzero(called))
    # A 2x2 tally is four counts; scikit-learn's confusion_matrix costs 30x more per call and
    # this runs once per bootstrap resample. Tests check every rate against scikit-learn.
    tp = int(np.count_nonzero(called & positive))
    fp = n_called - tp
    fn = n_pos - tp
    tn = n_neg - fp

    if n_pos and n_neg:
        # roc_curve + auc is what roc_auc_score does for a binary target, minus its
        # target-type inference, which dominated the bootstrap's running time.
        fpr, tpr, _ = roc_curve(y, p)
        auroc = float(auc(fpr, tpr))
        auprc = float(average_precision_score(y, p))
    else:
        auroc = auprc = NAN

    return {
        "auroc": auroc,
        "auprc": auprc,
        "accuracy": (tp + tn) / y.shape[0],
        "sensitivity": _inputs.ratio(tp, n_pos),
        "specificity": _inputs.ratio(tn, n_neg),
        "ppv": _inputs.ratio(tp, n_called),
        "npv": _inputs.ratio(tn, y.shape[0] - n_called),
        "f1": _inputs.ratio(2 * tp, 2 * tp + fp + fn),
        # brier_score_loss's input checks cost a fifth of a resample; the formula is one line.
        "brier": float(np.mean((p - positive) ** 2)),
    }


def multiclass_metrics(
    y_true: ArrayLike, proba: ArrayLike, classes: list[str] | None = None
) -> dict[str, float]:
    """Metrics of a k-class classifier from its (n, k) probability table.

    ``auroc_macro`` is the unweighted mean of one-vs-rest AUROCs (scikit-learn's
    ``multi_class="ovr", average="macro"``); it and ``balanced_accuracy`` are NaN unless every
    class occurs in ``y_true``. ``brier`` is the multiclass Brier score, the mean over rows of the
    summed squared error across classes (range 0 to 2). With ``classes`` the per-class
    one-vs-rest AUROCs are added as ``auroc[<class>]``.

    >>> m = multiclass_metrics([0, 1, 2], [[.8, .1, .1], [.2, .7, .1], [.3, .3, .4]], ["a", "b", "c"])
    >>> m["accuracy"], m["auroc_macro"], m["auroc[c]"]
    (1.0, 1.0, 1.0)
    """
    proba_arr = np.asarray(proba)
    k = proba_arr.shape[1] if proba_arr.ndim == 2 else 0
    if classes is not None and len(classes) != k:
        raise InvalidInputError(
            f"classes must name each of the {k} probability columns; got {len(classes)} names"
        )
    y = _inputs.labels(y_true, max(k, 2))
    p = _inputs.probability_table(proba_arr, y.shape[0])
    y_pred = p.argmax(axis=1)
    # Accuracy, balanced accuracy, macro F1, Brier and log loss are one-line formulas over a
    # k x k tally and the probability table; scikit-learn's versions re-validate and re-encode
    # the inputs on every call, which made them 80% of a bootstrap resample. Tests check each
    # against accuracy_score, balanced_accuracy_score, f1_score, brier_score_loss and log_loss.
    cm = np.bincount(y * k + y_pred, minlength=k * k).reshape(k, k)
    hits = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    called = cm.sum(axis=0)
    all_present = bool((support > 0).all())
    with np.errstate(divide="ignore", invalid="ignore"):
        # F1 of a class nobody has and nobody was called is 0/0: left out of the mean, as
        # f1_score(zero_division=np.nan) does.
        f1 = 2.0 * hits / (support + called)
    onehot = np.eye(k)[y]

    per_class = []
    for c in range(k):
        if 0 < support[c] < y.shape[0]:
            fpr, tpr, _ = roc_curve(y == c, p[:, c])
            per_class.append(float(auc(fpr, tpr)))
        else:
            per_class.append(NAN)

    out = {
        # The mean of the one-vs-rest AUROCs is exactly scikit-learn's OvR macro AUROC.
        "auroc_macro": float(np.mean(per_class)) if all_present else NAN,
        "accuracy": float(hits.sum() / y.shape[0]),
        "balanced_accuracy": float(np.mean(hits / support)) if all_present else NAN,
        "f1_macro": float(np.nanmean(f1)) if np.isfinite(f1).any() else NAN,
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        # Clipped at machine epsilon like log_loss, so a confident miss costs ~36, not infinity.
        "log_loss": float(-np.mean(np.log(np.clip(p[np.arange(y.shape[0]), y], _EPS, None)))),
    }
    if classes is not None:
        for name, value in zip(classes, per_class, strict=True):
            out[f"auroc[{name}]"] = value
    return out


def youden_threshold(y_true: ArrayLike, p_pos: ArrayLike) -> float:
    """The threshold on P(positive) that maximises Youden's J = sensitivity + specificity - 1.

    Pick it on out-of-fold training predictions, never on the test split: a threshold tuned on
    the rows that are then scored makes every threshold metric optimistic. The threshold lies
    halfway between the lowest score called positive and the next lower score, so a new score
    equal to neither falls on the side the training data support; ties in J go to the higher
    threshold (fewer false positives).

    >>> round(youden_threshold([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.8]), 6)
    0.45
    """
    y = _inputs.labels(y_true, 2)
    p = _inputs.probabilities(p_pos, y.shape[0])
    n_pos = int(np.count_nonzero(y))
    if n_pos == 0 or n_pos == y.shape[0]:
        raise InvalidInputError(
            "youden_threshold needs both classes in y_true; "
            f"got {n_pos} positives among {y.shape[0]} rows"
        )
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    best = int(np.argmax(tpr - fpr))
    cut = float(thresholds[best])
    if not np.isfinite(cut):
        # J is maximal at "call nobody positive" only when the scores are useless; call
        # everybody above the highest score negative, as the curve says.
        return float(np.nextafter(p.max(), np.inf))
    below = p[p < cut]
    return (cut + float(below.max())) / 2.0 if below.size else cut
