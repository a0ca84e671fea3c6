"""The Markdown model card says what card.json says, in a form a clinical reviewer can read."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medmaas.bundle.card import CandidateResult, Evaluation, MetricValue, ModelCard
from medmaas.bundle.card_render import render_markdown
from medmaas.metrics import evaluate, youden_threshold

pytestmark = pytest.mark.filterwarnings("error")

CLASSES = ["malignant", "benign"]


@pytest.fixture(scope="module")
def card() -> ModelCard:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=114, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1))
    oof = cross_val_predict(model, x_train, y_train, cv=5, method="predict_proba")[:, 1]
    threshold = youden_threshold(y_train, oof)
    proba = model.fit(x_train, y_train).predict_proba(x_test)
    size = np.where(x_test[:, 0] > 15, "large", "small").astype(object)
    size[:4] = "tiny-group"
    ev = evaluate(
        "classification",
        y_test,
        proba,
        classes=CLASSES,
        threshold=threshold,
        n_boot=200,
        groups={"tumour size": size},
        split_description="stratified random 20% hold-out",
        n_train=455,
    )
    coef = model[-1].coef_[0]
    return ModelCard(
        name="breast-mass-benign",
        kind="tabular",
        task="classification",
        intended_use="Second reader for fine-needle aspirate measurements | research only.",
        training_data={
            "name": "wdbc",
            "n_samples": 455,
            "classes": CLASSES,
            "class_counts": {"malignant": 170, "benign": 285},
            "features": [{"name": n, "type": "numeric", "missing": 0} for n in data.feature_names],
        },
        estimator="logistic_regression",
        candidates=[
            CandidateResult(
                name="logistic_regression",
                metric="roc_auc",
                mean=0.9934,
                std=0.0061,
                fit_seconds=0.04,
            ),
            CandidateResult(
                name="random_forest", metric="roc_auc", mean=0.9871, std=0.0102, fit_seconds=0.8
            ),
        ],
        evaluation=ev,
        global_importance=dict(zip(data.feature_names, np.abs(coef), strict=True)),
        limitations=["Single-centre data from Wisconsin, 1995."],
        plots=["roc.png", "calibration.png"],
        trained_by="ml-team@hospital.example",
        trained_at="2025-03-01T10:00:00Z",
        versions={"medmaas": "0.1.0", "scikit-learn": "1.9.1"},
    )


def test_markdown_has_every_section_and_the_numbers(card):
    md = render_markdown(card)
    for heading in [
        "# Model card: breast-mass-benign",
        "## Intended use",
        "## Out of scope",
        "## Training data",
        "## Model",
        "## Hold-out evaluation",
        "### Operating threshold",
        "### Confusion matrix",
        "### Calibration",
        "### Subgroups",
        "## Global importance (top 10)",
        "## Limitations",
        "## Plots",
        "## Provenance",
    ]:
        assert heading in md, heading
    auroc = card.evaluation.metrics["auroc"]
    assert f"| AUROC | {auroc.value:.3f} (95% CI {auroc.ci_low:.3f}–{auroc.ci_high:.3f}) |" in md
    assert "Sensitivity (recall)" in md and "95% CI" in md
    assert f"at least **{card.evaluation.threshold:.3f}**" in md
    cm = card.evaluation.confusion_matrix
    assert f"| **malignant** | {cm[0][0]} | {cm[0][1]} |" in md
    assert "![ROC curve](roc.png)" in md and "![Calibration](calibration.png)" in md
    assert "**Approved by:** not yet approved" in md
    assert "| **logistic_regression** (chosen) | roc_auc | 0.993 ± 0.006 | 0.0 |" in md
    assert (
        "second reader" in md.lower() and "\\| research only" not in md
    )  # prose is not a table cell
    assert "| Class counts | malignant: 170, benign: 285 |" in md


def test_subgroups_and_importance(card):
    md = render_markdown(card)
    assert "| tumour size | tiny-group | 4 | n/a | n/a | n/a | n/a |" in md
    importance_rows = md.split("## Global importance (top 10)")[1].split("## Limitations")[0]
    assert importance_rows.count("\n| ") == 11  # header + 10 features
    assert "20 further features not shown." in importance_rows


def test_approval_prefix_and_escaping(card):
    approved = card.model_copy(update={"approved_by": "Dr. A. Reviewer", "name": "a|b"})
    md = render_markdown(approved, image_prefix="plots/")
    assert "**Approved by:** Dr. A. Reviewer" in md and "not yet approved" not in md
    assert "![ROC curve](plots/roc.png)" in md
    assert "# Model card: a\\|b" in md


def test_regression_card_formats_by_magnitude():
    x, y = load_diabetes(return_X_y=True)
    pred = cross_val_predict(Ridge(), x, y, cv=5)
    ev = evaluate(
        "regression", y, pred, n_boot=100, split_description="5-fold out-of-fold", n_train=0
    )
    card = ModelCard(
        name="progression",
        kind="tabular",
        task="regression",
        intended_use="Research.",
        training_data={},
        estimator="ridge",
        evaluation=ev,
        trained_by="me",
        trained_at="now",
    )
    md = render_markdown(card)
    mae = ev.metrics["mae"]
    assert (
        f"| Mean absolute error | {mae.value:.2f} (95% CI {mae.ci_low:.2f}–{mae.ci_high:.2f}) |"
        in md
    )
    assert "Confusion matrix" not in md and "Operating threshold" not in md
    assert "None recorded." in md


def test_missing_values_render_as_na():
    ev = Evaluation(
        split="s",
        n_train=10,
        n_test=3,
        metrics={"auroc": MetricValue(value=None), "ppv": MetricValue(value=0.5)},
    )
    card = ModelCard(
        name="m",
        kind="tabular",
        task="classification",
        intended_use="x",
        training_data={},
        estimator="e",
        evaluation=ev,
        trained_by="t",
        trained_at="a",
    )
    md = render_markdown(card)
    assert "| AUROC | n/a |" in md and "| PPV (precision) | 0.500 |" in md
