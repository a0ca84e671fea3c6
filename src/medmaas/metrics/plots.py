"""Evaluation figures as PNG bytes, for the model card and the dashboard.

Built with matplotlib's object API (``Figure``, no pyplot), so nothing global changes: no
backend switch, no rcParams, safe in a server thread. Every figure is 800x600 at 100 dpi, uses
the Okabe-Ito palette (distinguishable with the common colour-vision deficiencies) and varies
line style as well as colour, so it also reads in greyscale.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from medmaas._optional import optional_import
from medmaas.bundle.card import Evaluation, MetricValue
from medmaas.exceptions import InvalidInputError
from medmaas.metrics import _inputs

optional_import("matplotlib", "train")

from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve  # noqa: E402

from medmaas.metrics.calibration import expected_calibration_error, reliability_curve  # noqa: E402
from medmaas.metrics.regression import regression_metrics  # noqa: E402

logger = logging.getLogger(__name__)

# Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green, orange,
# reddish purple, sky blue, yellow, black.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
LINESTYLES = ("-", "--", "-.", ":")
GREY = "#7F7F7F"
SIZE_IN = (8.0, 6.0)
DPI = 100
TITLE_SIZE = 14
LABEL_SIZE = 12
TICK_SIZE = 11
LEGEND_SIZE = 11

CI = tuple[float, float] | MetricValue | None


def roc_png(
    y_true: ArrayLike,
    p_pos: ArrayLike,
    auroc_ci: CI = None,
    *,
    threshold: float | None = None,
    title: str = "ROC curve (hold-out)",
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """ROC curve with AUROC (and its CI) in the legend; marks the operating point if given.

    >>> roc_png([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])[:4]
    b'\\x89PNG'
    """
    y, p = _binary(y_true, p_pos, "ROC curve")
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="Chance (AUROC 0.50)")
    ax.plot(
        fpr,
        tpr,
        color=PALETTE[0],
        linewidth=2.2,
        label=f"Model (AUROC {_with_ci(float(auc(fpr, tpr)), auroc_ci)})",
    )
    if threshold is not None:
        _operating_point(ax, y, p, threshold, roc=True)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    _labels(ax, title, "1 − specificity (false positive rate)", "Sensitivity (true positive rate)")
    ax.legend(loc="lower right", fontsize=LEGEND_SIZE)
    return _finish(fig, path)


def pr_png(
    y_true: ArrayLike,
    p_pos: ArrayLike,
    auprc_ci: CI = None,
    *,
    threshold: float | None = None,
    title: str = "Precision-recall curve (hold-out)",
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Precision-recall curve with average precision (and CI); the baseline is the prevalence.

    Where the outcome is rare, this shows what ROC hides: how many alerts are false alarms.

    >>> pr_png([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])[:4]
    b'\\x89PNG'
    """
    y, p = _binary(y_true, p_pos, "precision-recall curve")
    precision, recall, _ = precision_recall_curve(y, p)
    prevalence = float(np.mean(y))
    fig, ax = _figure()
    ax.axhline(
        prevalence,
        color=GREY,
        linestyle="--",
        linewidth=1,
        label=f"No skill (prevalence {prevalence:.2f})",
    )
    ax.step(
        recall,
        precision,
        where="post",
        color=PALETTE[0],
        linewidth=2.2,
        label=f"Model (AP {_with_ci(float(average_precision_score(y, p)), auprc_ci)})",
    )
    if threshold is not None:
        _operating_point(ax, y, p, threshold, roc=False)
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.03)
    _labels(ax, title, "Recall (sensitivity)", "Precision (positive predictive value)")
    ax.legend(loc="lower left", fontsize=LEGEND_SIZE)
    return _finish(fig, path)


def calibration_png(
    y_true: ArrayLike,
    p_pos: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: str = "quantile",
    title: str = "Calibration (hold-out)",
    xlabel: str = "Predicted probability",
    ylabel: str = "Observed fraction positive",
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Reliability diagram over a histogram of the predictions; ECE (10 equal-width bins) in the legend.

    Points above the diagonal mean the model under-estimates risk; below, over-estimates. The
    histogram shows where the predictions lie, by observed outcome, so sparse bins are visible.

    >>> calibration_png([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9], n_bins=2)[:4]
    b'\\x89PNG'
    """
    y = _inputs.labels(y_true, 2)
    p = _inputs.probabilities(p_pos, y.shape[0])
    curve = reliability_curve(y, p, n_bins=n_bins, strategy=strategy)  # type: ignore[arg-type]
    ece = expected_calibration_error(y, p)
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="Perfectly calibrated")
    top.plot(
        curve["mean_predicted"],
        curve["fraction_positive"],
        color=PALETTE[0],
        marker="o",
        linewidth=2,
        markersize=6,
        label=f"Model ({len(curve['count'])} {strategy} bins; ECE {ece:.3f})",
    )
    top.set_xlim(-0.01, 1.01)
    top.set_ylim(-0.01, 1.01)
    top.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    top.set_title(title, fontsize=TITLE_SIZE)
    top.tick_params(labelsize=TICK_SIZE)
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=LEGEND_SIZE)
    edges = np.linspace(0.0, 1.0, 21)
    bottom.hist(
        [p[y == 0], p[y == 1]],
        bins=edges,
        stacked=True,
        color=[PALETTE[5], PALETTE[1]],
        label=["outcome absent", "outcome present"],
    )
    bottom.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    bottom.set_ylabel("Rows", fontsize=LABEL_SIZE)
    bottom.tick_params(labelsize=TICK_SIZE)
    bottom.legend(loc="upper center", fontsize=LEGEND_SIZE - 1, ncols=2)
    return _finish(fig, path)


def confusion_png(
    cm: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    *,
    title: str = "Confusion matrix (hold-out)",
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Counts with row percentages (the share of each true class); shading by row share.

    >>> confusion_png([[50, 3], [4, 57]], ["benign", "malignant"])[:4]
    b'\\x89PNG'
    """
    matrix = np.asarray(cm, dtype=np.int64)
    k = len(class_names)
    if matrix.shape != (k, k):
        raise InvalidInputError(f"cm must be {k}x{k} for {k} class names; got shape {matrix.shape}")
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    fig, ax = _figure()
    image = ax.imshow(share, cmap="cividis", vmin=0.0, vmax=1.0)
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("Share of the true class", fontsize=LABEL_SIZE)
    text_size = max(8, 14 - k)
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{matrix[i, j]}\n({100 * share[i, j]:.0f}%)",
                ha="center",
                va="center",
                fontsize=text_size,
                color="black" if share[i, j] > 0.6 else "white",
            )
    ax.set_xticks(
        range(k),
        labels=[str(c) for c in class_names],
        rotation=30 if k > 3 else 0,
        ha="right" if k > 3 else "center",
    )
    ax.set_yticks(range(k), labels=[str(c) for c in class_names])
    _labels(ax, title, "Predicted class", "True class")
    ax.grid(False)
    return _finish(fig, path)


def importance_png(
    importance: Mapping[str, float],
    top: int = 15,
    *,
    title: str = "Global feature importance",
    xlabel: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Horizontal bars of the ``top`` features by absolute importance, largest at the top.

    Signed values (coefficients, mean SHAP) are coloured by sign; the default axis label says
    which kind of number it is.

    >>> importance_png({"age": 0.31, "creatinine": 0.12, "bmi": -0.05})[:4]
    b'\\x89PNG'
    """
    if not importance:
        raise InvalidInputError("importance is empty; nothing to plot")
    if top < 1:
        raise InvalidInputError(f"top must be >= 1; got {top}")
    items = sorted(importance.items(), key=lambda kv: abs(kv[1]), reverse=True)[:top]
    items.reverse()  # barh draws the first item at the bottom
    names = [name for name, _ in items]
    vals = np.array([value for _, value in items], dtype=np.float64)
    fig, ax = _figure()
    colours = [PALETTE[0] if v >= 0 else PALETTE[1] for v in vals]
    ax.barh(range(len(vals)), vals, color=colours)
    ax.set_yticks(range(len(vals)), labels=names)
    ax.axvline(0, color="black", linewidth=0.8)
    if (vals < 0).any():
        # Signed importances (e.g. coefficients): say which colour is which direction.
        ax.legend(
            handles=[
                Patch(color=PALETTE[0], label="positive"),
                Patch(color=PALETTE[1], label="negative"),
            ],
            loc="lower right",
            fontsize=LEGEND_SIZE,
        )
    shown = (
        f"top {len(vals)} of {len(importance)}"
        if len(importance) > len(vals)
        else f"{len(vals)} features"
    )
    if xlabel is None:
        xlabel = "Importance (signed)" if (vals < 0).any() else "Importance (mean |SHAP value|)"
    _labels(ax, f"{title} ({shown})", xlabel, "")
    ax.grid(axis="y", visible=False)
    return _finish(fig, path)


def regression_png(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    unit: str | None = None,
    title: str = "Predicted vs observed (hold-out)",
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """Predicted against observed with the identity line, and residuals against predicted.

    >>> regression_png([1.0, 2.0, 3.0, 4.0], [1.2, 1.9, 3.3, 3.8])[:4]
    b'\\x89PNG'
    """
    m = regression_metrics(y_true, y_pred)
    y = _inputs.values(y_true, "y_true")
    pred = _inputs.values(y_pred, "y_pred")
    suffix = f" ({unit})" if unit else ""
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    left, right = fig.subplots(1, 2)
    low, high = float(min(y.min(), pred.min())), float(max(y.max(), pred.max()))
    pad = 0.05 * (high - low or 1.0)
    left.plot(
        [low - pad, high + pad],
        [low - pad, high + pad],
        color=GREY,
        linestyle="--",
        linewidth=1,
        label="Perfect prediction",
    )
    left.scatter(y, pred, s=18, alpha=0.6, color=PALETTE[0], edgecolors="none", label="Rows")
    left.set_xlim(low - pad, high + pad)
    left.set_ylim(low - pad, high + pad)
    # Square panels of equal size: the identity line at 45 degrees, residuals just as legible.
    left.set_box_aspect(1)
    right.set_box_aspect(1)
    r2 = "n/a" if np.isnan(m["r2"]) else f"{m['r2']:.3f}"
    _labels(left, f"MAE {m['mae']:.3g}, R² {r2}", f"Observed{suffix}", f"Predicted{suffix}")
    left.legend(loc="upper left", fontsize=LEGEND_SIZE - 1)
    residual = y - pred
    right.axhline(0.0, color=GREY, linestyle="--", linewidth=1)
    right.scatter(pred, residual, s=18, alpha=0.6, color=PALETTE[1], edgecolors="none")
    _labels(right, "Residuals", f"Predicted{suffix}", f"Observed − predicted{suffix}")
    fig.suptitle(title, fontsize=TITLE_SIZE)
    return _finish(fig, path)


def multiclass_roc_png(
    y_true: ArrayLike,
    proba: ArrayLike,
    class_names: Sequence[str],
    auroc_ci: Mapping[str, CI] | None = None,
    *,
    title: str = "One-vs-rest ROC curves (hold-out)",
    path: str | os.PathLike[str] | None = None,
) -> bytes:
    """One one-vs-rest ROC curve per class, each with its AUROC (and CI) in the legend.

    ``auroc_ci`` maps a class name to its interval (e.g. from ``metrics["auroc[<class>]"]``).

    >>> multiclass_roc_png([0, 1, 2, 0, 1, 2], [[.7, .2, .1], [.2, .6, .2], [.1, .3, .6],
    ...                     [.4, .4, .2], [.3, .5, .2], [.2, .2, .6]], ["a", "b", "c"])[:4]
    b'\\x89PNG'
    """
    k = len(class_names)
    y = _inputs.labels(y_true, k)
    p = _inputs.probability_table(proba, y.shape[0], "proba")
    if p.shape[1] != k:
        raise InvalidInputError(f"proba has {p.shape[1]} columns for {k} class names")
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=1, label="Chance (AUROC 0.50)")
    for c, name in enumerate(class_names):
        one = y == c
        if one.all() or not one.any():
            logger.debug("class %s has no rows or all rows; no ROC curve drawn", name)
            continue
        fpr, tpr, _ = roc_curve(one, p[:, c])
        ci = (auroc_ci or {}).get(str(name))
        ax.plot(
            fpr,
            tpr,
            color=PALETTE[c % len(PALETTE)],
            linestyle=LINESTYLES[(c // len(PALETTE) + c) % len(LINESTYLES)],
            linewidth=2,
            label=f"{name} (AUROC {_with_ci(float(auc(fpr, tpr)), ci)})",
        )
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    _labels(ax, title, "1 − specificity (false positive rate)", "Sensitivity (true positive rate)")
    ax.legend(loc="lower right", fontsize=LEGEND_SIZE if k <= 6 else LEGEND_SIZE - 2)
    return _finish(fig, path)


def write_plots(
    task: str,
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    classes: Sequence[str] = (),
    directory: str | os.PathLike[str],
    evaluation: Evaluation | None = None,
    importance: Mapping[str, float] | None = None,
) -> list[str]:
    """Write the figures suited to the task into ``directory``; return their file names.

    Binary: roc.png, pr.png, calibration.png, confusion.png; multiclass: roc.png (one curve per
    class), calibration.png (top-label), confusion.png; regression: regression.png; and
    importance.png when ``importance`` is given. Intervals, threshold and confusion matrix come
    from ``evaluation`` (from ``evaluate`` on the same rows) when given. A figure that the rows
    cannot support (ROC with one class) is skipped, not faked.

    >>> import tempfile
    >>> write_plots("regression", [1.0, 2.0, 3.0], [1.1, 2.2, 2.7], directory=tempfile.mkdtemp())
    ['regression.png']
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = evaluation.metrics if evaluation else {}
    written: list[str] = []
    if task == "regression":
        regression_png(y_true, scores, path=out_dir / "regression.png")
        written.append("regression.png")
    elif task == "classification":
        k = len(classes)
        if k < 2:
            raise InvalidInputError(
                f"classification needs at least two class names; got {list(classes)}"
            )
        y = _inputs.labels(y_true, k)
        arr = np.asarray(scores, dtype=np.float64)
        if k == 2:
            p = arr[:, 1] if arr.ndim == 2 else arr
            p = _inputs.probabilities(p, y.shape[0], "scores")
            threshold = (
                evaluation.threshold if evaluation and evaluation.threshold is not None else 0.5
            )
            both = 0 < int(np.count_nonzero(y)) < y.shape[0]
            if both:
                roc_png(y, p, metrics.get("auroc"), threshold=threshold, path=out_dir / "roc.png")
                written.append("roc.png")
                pr_png(y, p, metrics.get("auprc"), threshold=threshold, path=out_dir / "pr.png")
                written.append("pr.png")
            else:
                logger.info("hold-out rows hold one class; ROC and PR plots skipped")
            calibration_png(y, p, path=out_dir / "calibration.png")
            written.append("calibration.png")
            called = (p >= threshold).astype(np.int64)
        else:
            p_table = _inputs.probability_table(arr, y.shape[0], "scores")
            ci = {str(c): metrics.get(f"auroc[{c}]") for c in classes}
            multiclass_roc_png(y, p_table, classes, ci, path=out_dir / "roc.png")
            written.append("roc.png")
            called = p_table.argmax(axis=1)
            calibration_png(
                called == y,
                p_table.max(axis=1),
                title="Top-label calibration (hold-out)",
                xlabel="Predicted probability of the predicted class",
                ylabel="Observed accuracy",
                path=out_dir / "calibration.png",
            )
            written.append("calibration.png")
        if evaluation is not None and evaluation.confusion_matrix is not None:
            cm = np.asarray(evaluation.confusion_matrix)
        else:
            cm = np.bincount(y * k + called, minlength=k * k).reshape(k, k)
        confusion_png(cm, classes, path=out_dir / "confusion.png")
        written.append("confusion.png")
    else:
        raise InvalidInputError(f"task must be 'classification' or 'regression'; got {task!r}")
    if importance:
        importance_png(importance, path=out_dir / "importance.png")
        written.append("importance.png")
    return written


# -- helpers -----------------------------------------------------------------------------------


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=TICK_SIZE)
    return fig, ax


def _labels(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)


def _binary(y_true: ArrayLike, p_pos: ArrayLike, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = _inputs.labels(y_true, 2)
    p = _inputs.probabilities(p_pos, y.shape[0])
    n_pos = int(np.count_nonzero(y))
    if n_pos == 0 or n_pos == y.shape[0]:
        raise InvalidInputError(
            f"a {what} needs both classes in y_true; got {n_pos} positives among {y.shape[0]} rows"
        )
    return y, p


def _with_ci(value: float, ci: CI) -> str:
    if isinstance(ci, MetricValue):
        ci = None if ci.ci_low is None or ci.ci_high is None else (ci.ci_low, ci.ci_high)
    if ci is None:
        return f"{value:.3f}"
    return f"{value:.3f}, 95% CI {ci[0]:.3f}–{ci[1]:.3f}"


def _operating_point(
    ax: Axes, y: np.ndarray, p: np.ndarray, threshold: float, *, roc: bool
) -> None:
    called = p >= threshold
    tp = int(np.count_nonzero(called & (y == 1)))
    sens = tp / int(np.count_nonzero(y == 1))
    spec = int(np.count_nonzero(~called & (y == 0))) / int(np.count_nonzero(y == 0))
    if roc:
        x, yy = 1.0 - spec, sens
        text = f"Threshold {threshold:.2f}: sensitivity {sens:.2f}, specificity {spec:.2f}"
    else:
        n_called = int(np.count_nonzero(called))
        ppv = tp / n_called if n_called else float("nan")
        x, yy = sens, ppv
        text = f"Threshold {threshold:.2f}: recall {sens:.2f}, precision {ppv:.2f}"
    ax.plot([x], [yy], marker="o", markersize=9, color=PALETTE[1], linestyle="none", label=text)


def _finish(fig: Figure, path: str | os.PathLike[str] | None) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    data = buffer.getvalue()
    if path is not None:
        _write_atomic(Path(path), data)
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    # A half-written PNG in a bundle directory would be hashed into the bundle; write then rename.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; a plot in a bundle is read by the service and the dashboard.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
