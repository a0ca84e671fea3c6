"""evaluate(): hold-out predictions in, the card's Evaluation out, for every task shape, with
subgroups that are too small or single-class reported rather than crashing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medmaas.bundle.card import Evaluation
from medmaas.exceptions import InvalidInputError
from medmaas.metrics import binary_metrics, evaluate, regression_metrics

pytestmark = pytest.mark.filterwarnings("error")

CLASSES = ["malignant", "benign"]


@pytest.fixture(scope="module")
def cancer() -> dict[str, np.ndarray]:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=114, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1)).fit(x_train, y_train)
    # "large tumour" stands in for a patient attribute: a real, data-derived subgroup variable.
    large = np.where(x_test[:, 0] > 15, "large", "small")
    return {"y": y_test, "proba": model.predict_proba(x_test), "large": large}


def test_binary_evaluation(cancer):
    y, p = cancer["y"], cancer["proba"][:, 1]
    ev = evaluate(
        "classification",
        y,
        p,
        classes=CLASSES,
        threshold=0.4,
        n_boot=200,
        split_description="stratified random 20% hold-out",
        n_train=455,
    )
    assert isinstance(ev, Evaluation)
    assert (ev.n_train, ev.n_test, ev.threshold) == (455, 114, 0.4)
    point = binary_metrics(y, p, 0.4)
    for key, value in point.items():
        # Stored unrounded: exactly what the metric function says.
        assert ev.metrics[key].value == value, key
        assert ev.metrics[key].ci_low <= value <= ev.metrics[key].ci_high, key
    assert 0.0 <= ev.metrics["ece"].value < 0.2
    assert ev.confusion_matrix == confusion_matrix(y, (p >= 0.4).astype(int)).tolist()
    assert sum(ev.calibration["count"]) == 114
    assert set(ev.calibration) == {"mean_predicted", "fraction_positive", "count"}
    assert Evaluation.model_validate_json(ev.model_dump_json()) == ev


def test_binary_scores_as_two_columns_match_one_column(cancer):
    common = dict(classes=CLASSES, n_boot=50, split_description="s", n_train=1)
    one = evaluate("classification", cancer["y"], cancer["proba"][:, 1], **common)
    two = evaluate("classification", cancer["y"], cancer["proba"], **common)
    assert one == two
    assert one.threshold == 0.5


def test_subgroups_small_single_class_and_missing(cancer):
    y, p = cancer["y"], cancer["proba"][:, 1]
    n = y.shape[0]
    site = np.array(["A"] * (n - 5) + ["B"] * 5, dtype=object)  # B: 5 rows, too few
    site[:3] = None  # unknown site: its own group
    only_benign = np.where(y == 1, "benign-only", "rest")  # each group is a single class
    ev = evaluate(
        "classification",
        y,
        p,
        classes=CLASSES,
        n_boot=50,
        split_description="s",
        n_train=1,
        groups={"tumour": cancer["large"], "site": site, "label": only_benign},
    )
    by = {(s.variable, s.group): s for s in ev.subgroups}
    assert [k for k in by if k[0] == "tumour"] == [("tumour", "large"), ("tumour", "small")]
    assert by["tumour", "large"].n + by["tumour", "small"].n == n
    large = by["tumour", "large"]
    assert large.metrics["auroc"].value is not None and large.metrics["auroc"].ci_low is not None
    assert by["site", "B"].n == 5
    assert all(v.value is None for v in by["site", "B"].metrics.values())
    assert set(by["site", "B"].metrics) == set(ev.metrics)
    assert by["site", "missing"].n == 3
    assert all(v.value is None for v in by["label", "benign-only"].metrics.values())


def test_subgroup_values_are_sorted_numerically_and_floats_read_as_integers(cancer):
    y, p = cancer["y"], cancer["proba"][:, 1]
    age_band = np.where(
        np.arange(y.shape[0]) % 3 == 0, 10.0, np.where(np.arange(y.shape[0]) % 3 == 1, 2.0, np.nan)
    )
    ev = evaluate(
        "classification",
        y,
        p,
        classes=CLASSES,
        n_boot=0,
        split_description="s",
        n_train=1,
        groups={"band": age_band},
    )
    assert [s.group for s in ev.subgroups] == ["2", "10", "missing"]


def test_multiclass_evaluation():
    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.4, random_state=0, stratify=y
    )
    proba = LogisticRegression(C=0.05).fit(x_train, y_train).predict_proba(x_test)
    names = ["setosa", "versicolor", "virginica"]
    ev = evaluate(
        "classification",
        y_test,
        proba,
        classes=names,
        n_boot=100,
        split_description="s",
        n_train=90,
    )
    assert ev.threshold is None
    assert {"auroc_macro", "accuracy", "log_loss", "ece", "auroc[virginica]"} <= set(ev.metrics)
    assert np.array(ev.confusion_matrix).sum() == 60
    assert sum(ev.calibration["count"]) == 60  # top-label calibration over every row
    with pytest.raises(InvalidInputError, match="threshold applies to binary"):
        evaluate(
            "classification",
            y_test,
            proba,
            classes=names,
            threshold=0.5,
            split_description="s",
            n_train=1,
        )


def test_regression_evaluation():
    x, y = load_diabetes(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    pred = Ridge(alpha=0.1).fit(x_train, y_train).predict(x_test)
    sex = np.where(x_test[:, 1] > 0, "F", "M")
    ev = evaluate(
        "regression",
        y_test,
        pred,
        n_boot=100,
        split_description="s",
        n_train=331,
        groups={"sex": sex},
    )
    assert ev.metrics["mae"].value == regression_metrics(y_test, pred)["mae"]
    assert ev.metrics["rmse"].ci_low < ev.metrics["rmse"].value < ev.metrics["rmse"].ci_high
    assert ev.confusion_matrix is None and ev.calibration == {} and ev.threshold is None
    assert [s.group for s in ev.subgroups] == ["F", "M"]
    assert all(s.metrics["mae"].value is not None for s in ev.subgroups)


def test_constant_predictions_are_evaluated_not_rejected(cancer):
    y = cancer["y"]
    ev = evaluate(
        "classification",
        y,
        np.full(y.shape[0], 0.7),
        classes=CLASSES,
        n_boot=50,
        split_description="s",
        n_train=1,
    )
    assert ev.metrics["auroc"].value == 0.5
    assert ev.metrics["specificity"].value == 0.0
    assert ev.metrics["npv"].value is None  # nobody is called negative


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(task="survival"), "task must be"),
        (dict(classes=["only"]), "at least two classes"),
        (dict(threshold=1.5), "threshold must lie in"),
        (dict(groups={"sex": np.zeros(3)}), "groups\\['sex'\\] must hold one value per test row"),
        (dict(scores=np.full(114, 2.0)), "probabilities"),
    ],
)
def test_evaluate_rejects_bad_input(cancer, kwargs, message):
    args = dict(
        task="classification",
        y_true=cancer["y"],
        scores=cancer["proba"][:, 1],
        classes=CLASSES,
        n_boot=0,
        split_description="s",
        n_train=1,
    )
    args.update(kwargs)
    with pytest.raises(InvalidInputError, match=message):
        evaluate(**args)


def test_a_proportion_at_one_gets_a_wilson_interval_not_a_point():
    y = np.array([0] * 30 + [1] * 20)
    p = np.concatenate([np.linspace(0.05, 0.45, 30), np.linspace(0.55, 0.95, 20)])
    ev = evaluate(
        "classification", y, p, classes=["no", "yes"], n_boot=100, split_description="s", n_train=1
    )
    sens = ev.metrics["sensitivity"]
    assert sens.value == 1.0
    # Wilson 95% interval for 20 of 20: (0.8389, 1.0)
    assert sens.ci_low == pytest.approx(0.8389, abs=1e-4) and sens.ci_high == pytest.approx(1.0)
    assert ev.metrics["auroc"].ci_low == pytest.approx(
        1.0
    )  # not a proportion: the bootstrap interval stands
