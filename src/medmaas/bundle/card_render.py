"""The model card as Markdown, for the clinician or reviewer who decides whether it may be used.

Pure formatting over the validated ``ModelCard``: no numbers are computed here, only rounded,
so the Markdown always says what card.json says. Serving imports this, so it stays stdlib-only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from medmaas.bundle.card import Evaluation, MetricValue, ModelCard

IMPORTANCE_ROWS = 10
# A feature list longer than this is cut: the card is read, not searched.
RECORD_ROWS = 50

# Names a clinical reader knows; keys not listed are shown as they are.
METRIC_LABELS = {
    "auroc": "AUROC",
    "auprc": "AUPRC (average precision)",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity (recall)",
    "specificity": "Specificity",
    "ppv": "PPV (precision)",
    "npv": "NPV",
    "f1": "F1 score",
    "brier": "Brier score (lower is better)",
    "ece": "Expected calibration error (lower is better)",
    "auroc_macro": "AUROC (macro, one-vs-rest)",
    "balanced_accuracy": "Balanced accuracy",
    "f1_macro": "F1 score (macro)",
    "log_loss": "Log loss (lower is better)",
    "mae": "Mean absolute error",
    "rmse": "Root mean squared error",
    "r2": "R²",
    "median_ae": "Median absolute error",
}
# Which metrics the subgroup table shows, by task shape; the first ones present are used.
SUBGROUP_COLUMNS = (
    "auroc",
    "sensitivity",
    "specificity",
    "ppv",
    "auroc_macro",
    "accuracy",
    "balanced_accuracy",
    "mae",
    "rmse",
    "r2",
)
SUBGROUP_MAX_COLUMNS = 4


def render_markdown(card: ModelCard, *, image_prefix: str = "") -> str:
    """The card as Markdown: use, data, model choice, hold-out metrics with CIs, subgroups, sign-off.

    Plots are linked relative to the card (``image_prefix`` is prepended, e.g. ``"plots/"``).

    >>> from medmaas.bundle.card import Evaluation, MetricValue, ModelCard
    >>> card = ModelCard(
    ...     name="sepsis-risk", kind="tabular", task="classification", intended_use="Triage aid.",
    ...     training_data={"n_samples": 455}, estimator="logistic_regression",
    ...     evaluation=Evaluation(split="random 20%", n_train=455, n_test=114,
    ...         metrics={"auroc": MetricValue(value=0.9912, ci_low=0.978, ci_high=0.9994)}),
    ...     trained_by="ml-team", trained_at="2025-01-01T00:00:00Z")
    >>> "0.991 (95% CI 0.978–0.999)" in render_markdown(card)
    True
    """
    classes = _classes(card)
    parts = [
        f"# Model card: {_text(card.name)}",
        _bullets(
            [
                f"**Kind / task:** {_text(card.kind)} / {_text(card.task)}",
                f"**Estimator:** {_text(card.estimator)}",
                f"**Status:** {_approval(card)}",
            ]
        ),
        "## Intended use",
        card.intended_use.strip(),
        "## Out of scope",
        card.out_of_scope.strip(),
        "## Training data",
        _training_data(card.training_data),
        "## Model",
        _model(card),
        "## Hold-out evaluation",
        _evaluation(card.evaluation, classes),
    ]
    if card.global_importance:
        parts += [
            f"## Global importance (top {IMPORTANCE_ROWS})",
            _importance(card.global_importance),
        ]
    if card.details:
        parts += ["## Model details", _table(["Field", "Value"],
                                             [[_label(k), _value(v)] for k, v in card.details.items()])]
    if card.variants:
        parts += ["## ONNX variants (hold-out split, same images)", _variants(card)]
    parts += [
        "## Limitations",
        _bullets(card.limitations) if card.limitations else "None recorded.",
    ]
    if card.benchmarks:
        parts += ["## Compared with published results", _bullets(card.benchmarks)]
    if card.plots:
        parts += ["## Plots", _plots(card.plots, image_prefix)]
    if card.references:
        parts += ["## References", _bullets(card.references)]
    parts += ["## Provenance", _provenance(card)]
    return "\n\n".join(p for p in parts if p) + "\n"


# -- sections ----------------------------------------------------------------------------------


def _training_data(data: Mapping[str, Any]) -> str:
    if not data:
        return "Not recorded."
    scalar_rows: list[list[str]] = []
    tables: list[str] = []
    for key, value in data.items():
        if _is_record_list(value):
            shown = value[:RECORD_ROWS]
            note = (
                f"\n\n{len(value) - len(shown)} more not shown." if len(value) > len(shown) else ""
            )
            tables.append(f"**{_label(key)}** ({len(value)})\n\n{_records(shown)}{note}")
        else:
            scalar_rows.append([_label(key), _value(value)])
    out = [_table(["Field", "Value"], scalar_rows)] if scalar_rows else []
    return "\n\n".join(out + tables)


def _model(card: ModelCard) -> str:
    lines = [f"Chosen estimator: **{_text(card.estimator)}**."]
    if card.candidates:
        metric = card.candidates[0].metric
        lines.append(
            f"Candidates compared by cross-validation on the training split ({_text(metric)}, "
            "mean ± standard deviation across folds):"
        )
        rows = [
            [
                f"**{_text(c.name)}** (chosen)" if c.name == card.estimator else _text(c.name),
                _text(c.metric),
                f"{_num(c.mean)} ± {_num(c.std)}",
                f"{c.fit_seconds:.1f}",
            ]
            for c in card.candidates
        ]
        lines.append(_table(["Candidate", "Metric", "Mean ± SD", "Fit time (s)"], rows))
    return "\n\n".join(lines)


def _evaluation(ev: Evaluation, classes: Sequence[str]) -> str:
    parts = [
        f"Split: {_text(ev.split)}. Training rows: {ev.n_train}; hold-out rows: {ev.n_test}. "
        "Intervals are 95% percentile-bootstrap confidence intervals over the hold-out rows "
        "(for a proportion estimated at 0 or 1, where the bootstrap cannot vary, the Wilson "
        "score interval); n/a marks a value the data cannot define.",
        _table(
            ["Metric", "Estimate (95% CI)"],
            [[_metric_label(k), _estimate(v)] for k, v in _ordered(ev.metrics)],
        ),
    ]
    if ev.threshold is not None:
        positive = classes[1] if len(classes) == 2 else "the positive class"
        parts += [
            "### Operating threshold",
            f"A case is called **{_text(positive)}** when the predicted probability of "
            f"{_text(positive)} is at least **{_num(ev.threshold)}**. Sensitivity, specificity, "
            "PPV, NPV, F1 and the confusion matrix are at this threshold.",
        ]
    if ev.confusion_matrix:
        parts += ["### Confusion matrix", _confusion(ev.confusion_matrix, classes)]
    if ev.calibration.get("mean_predicted"):
        parts += ["### Calibration", _calibration(ev.calibration)]
    if ev.subgroups:
        parts += ["### Subgroups", _subgroups(ev)]
    return "\n\n".join(parts)


def _confusion(matrix: list[list[int]], classes: Sequence[str]) -> str:
    names = (
        list(classes) if len(classes) == len(matrix) else [f"class {i}" for i in range(len(matrix))]
    )
    header = ["True \\ predicted", *(_text(n) for n in names)]
    rows = [
        [f"**{_text(name)}**", *(str(v) for v in row)]
        for name, row in zip(names, matrix, strict=True)
    ]
    return _table(header, rows) + "\n\nRows are the true class, columns the predicted class."


def _calibration(curve: Mapping[str, list[float]]) -> str:
    rows = [
        [str(i + 1), _num(mp), _num(fp), str(int(n))]
        for i, (mp, fp, n) in enumerate(
            zip(
                curve["mean_predicted"],
                curve["fraction_positive"],
                curve.get("count", []),
                strict=False,
            )
        )
    ]
    return (
        "Mean predicted probability against the observed frequency, per bin of predictions; "
        "a well-calibrated model has the two close.\n\n"
        + _table(["Bin", "Mean predicted", "Observed", "Rows"], rows)
    )


def _subgroups(ev: Evaluation) -> str:
    keys = [k for k in SUBGROUP_COLUMNS if k in ev.metrics][:SUBGROUP_MAX_COLUMNS]
    rows = [
        [_text(s.variable), _text(s.group), str(s.n), *(_estimate(s.metrics.get(k)) for k in keys)]
        for s in ev.subgroups
    ]
    return (
        _table(["Variable", "Group", "n", *(_metric_label(k) for k in keys)], rows)
        + "\n\nSubgroups with fewer than 10 rows or a single class show n/a: too few to estimate."
    )


def _importance(importance: Mapping[str, float]) -> str:
    ranked = sorted(importance.items(), key=lambda kv: abs(kv[1]), reverse=True)
    rows = [
        [str(i + 1), _text(name), _num(value)]
        for i, (name, value) in enumerate(ranked[:IMPORTANCE_ROWS])
    ]
    more = len(ranked) - IMPORTANCE_ROWS
    tail = f"\n\n{more} further features not shown." if more > 0 else ""
    return _table(["Rank", "Feature", "Importance"], rows) + tail


def _plots(plots: Iterable[str], prefix: str) -> str:
    return "\n\n".join(f"![{_plot_title(p)}]({prefix}{p})" for p in plots)


def _provenance(card: ModelCard) -> str:
    lines = _bullets(
        [
            f"**Trained by:** {_text(card.trained_by)}",
            f"**Trained at:** {_text(card.trained_at)}",
            f"**Approved by:** {_approval(card)}",
        ]
    )
    if card.versions:
        lines += "\n\n" + _table(
            ["Component", "Version"], [[_text(k), _text(v)] for k, v in card.versions.items()]
        )
    return lines


# -- formatting --------------------------------------------------------------------------------


def _approval(card: ModelCard) -> str:
    return _text(card.approved_by) if card.approved_by else "not yet approved"


def _classes(card: ModelCard) -> list[str]:
    found = card.training_data.get("classes")
    return [str(c) for c in found] if isinstance(found, list | tuple) else []


def _ordered(metrics: Mapping[str, MetricValue]) -> list[tuple[str, MetricValue]]:
    known = [k for k in METRIC_LABELS if k in metrics]
    return [(k, metrics[k]) for k in known] + [
        (k, v) for k, v in metrics.items() if k not in METRIC_LABELS
    ]


def _metric_label(key: str) -> str:
    if key.startswith("auroc[") and key.endswith("]"):
        return f"AUROC, {_text(key[6:-1])} vs rest"
    return METRIC_LABELS.get(key, _text(key))


def _estimate(metric: MetricValue | None) -> str:
    """``0.991 (95% CI 0.978–0.999)``, with value and bounds to the same number of decimals."""
    if metric is None or metric.value is None or not math.isfinite(metric.value):
        return "n/a"
    decimals = _decimals(metric.value)
    text = f"{metric.value:.{decimals}f}"
    if metric.ci_low is not None and metric.ci_high is not None:
        text += f" (95% CI {metric.ci_low:.{decimals}f}–{metric.ci_high:.{decimals}f})"
    return text


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{_decimals(value)}f}"


def _decimals(value: float) -> int:
    # Three decimals for the 0-1 scores clinicians compare; fewer as magnitudes grow, so a
    # mean absolute error of 1234.5678 mg/dL reads "1234.6", not false precision.
    magnitude = abs(value)
    if magnitude < 10:
        return 3
    if magnitude < 100:
        return 2
    if magnitude < 10_000:
        return 1
    return 0


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _text(str(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, Mapping):
        return ", ".join(f"{_text(str(k))}: {_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list | tuple):
        items = [_value(v) for v in value]
        # Notes are sentences with commas of their own; keep the items apart.
        return ("; " if any("," in item for item in items) else ", ").join(items) or "none"
    return _text(str(value))


def _variants(card: ModelCard) -> str:
    rows = []
    for v in card.variants:
        metrics = sorted(set(v.metrics) | set(v.reference_metrics))
        quality = "; ".join(f"{_label(m)} {_value(v.reference_metrics.get(m))} → {_value(v.metrics.get(m))}"
                            for m in metrics)
        speed = "; ".join(f"batch {b}: {_num(v.reference_latency_ms[b])} → {_num(ms)} ms"
                          for b, ms in v.latency_ms.items() if b in v.reference_latency_ms)
        rows.append([f"{_text(v.name)} ({_text(v.file)})", quality, speed,
                     _num(v.max_probability_difference), ("served: " if v.served else "not served: ") + _text(v.reason)])
    return _table(["Variant", "Quality (model.onnx → variant)", "Latency per call, median (model.onnx → variant)",
                   "Max probability difference", "Decision"], rows)


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _records(records: Sequence[Mapping[str, Any]]) -> str:
    columns: list[str] = []
    for record in records:
        columns += [str(k) for k in record if str(k) not in columns]
    rows = [[_value(r.get(c, "")) for c in columns] for r in records]
    return _table([_label(c) for c in columns], rows)


def _label(key: str) -> str:
    special = {"n_samples": "Rows", "n_features": "Features", "sha256": "Content SHA-256"}
    return special.get(key, key.replace("_", " ").capitalize())


def _plot_title(name: str) -> str:
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    titles = {
        "roc": "ROC curve",
        "pr": "Precision-recall curve",
        "calibration": "Calibration",
        "confusion": "Confusion matrix",
        "importance": "Global importance",
        "regression": "Predicted vs observed",
    }
    return titles.get(stem, stem.replace("_", " "))


def _bullets(items: Iterable[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _text(value: object) -> str:
    # Free text lands inside table cells: a pipe would split the cell, a newline end the table.
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")
