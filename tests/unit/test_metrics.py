"""Clinical metrics on real data: they agree with scikit-learn, their CIs behave, and the
degenerate samples that bootstrap resamples and small subgroups produce never crash or warn."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    log_loss,
    mean_absolute_error,
    median_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)
from sklearn.model_selection import cross_val_predict, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medmaas.exceptions import InvalidInputError
from medmaas.metrics import (
    binary_metrics,
    bootstrap_ci,
    expected_calibration_error,
    multiclass_metrics,
    regression_metrics,
    reliability_curve,
    youden_threshold,
)

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def cancer() -> dict[str, np.ndarray]:
    """Breast cancer (569 rows): a logistic regression's hold-out and out-of-fold P(benign)."""
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=114, random_state=0, stratify=data.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1))
    p_test = model.fit(x_train, y_train).predict_proba(x_test)[:, 1]
    p_oof = cross_val_predict(model, data.data, data.target, cv=5, method="predict_proba")[:, 1]
    return {
        "y_test": y_test,
        "p_test": p_test,
        "y_all": data.target,
        "p_oof": p_oof,
        "y_train": y_train,
        "p_train_oof": cross_val_predict(model, x_train, y_train, cv=5, method="predict_proba")[
            :, 1
        ],
    }


@pytest.fixture(scope="module")
def iris() -> dict[str, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    proba = cross_val_predict(LogisticRegression(C=0.05), x, y, cv=5, method="predict_proba")
    return {"y": y, "proba": proba}


# -- binary ------------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.5, 0.3, 0.9])
def test_binary_metrics_agree_with_sklearn(cancer, threshold):
    y, p = cancer["y_test"], cancer["p_test"]
    m = binary_metrics(y, p, threshold)
    called = (p >= threshold).astype(int)
    expected = {
        "auroc": roc_auc_score(y, p),
        "auprc": average_precision_score(y, p),
        "accuracy": accuracy_score(y, called),
        "sensitivity": recall_score(y, called),
        "specificity": recall_score(y, called, pos_label=0),
        "ppv": precision_score(y, called),
        "npv": precision_score(y, called, pos_label=0),
        "f1": f1_score(y, called),
        "brier": brier_score_loss(y, p),
    }
    assert list(m) == list(expected)
    for key, value in expected.items():
        assert m[key] == pytest.approx(value, abs=1e-12), key


def test_binary_metrics_undefined_values_are_nan_not_errors():
    no_positives = binary_metrics(np.zeros(20, dtype=int), np.linspace(0, 1, 20))
    for key in ("auroc", "auprc", "sensitivity"):
        assert np.isnan(no_positives[key]), key
    assert no_positives["specificity"] == pytest.approx(10 / 20)

    nobody_called = binary_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], threshold=0.5)
    assert np.isnan(nobody_called["ppv"])
    assert nobody_called["npv"] == 0.5
    assert nobody_called["sensitivity"] == 0.0

    nothing_at_all = binary_metrics([0, 0], [0.1, 0.2])
    assert np.isnan(nothing_at_all["f1"]) and np.isnan(nothing_at_all["ppv"])


def test_binary_metrics_constant_predictions():
    m = binary_metrics([0, 1, 0, 1, 1], np.full(5, 0.5))
    assert m["auroc"] == 0.5
    assert m["sensitivity"] == 1.0 and m["specificity"] == 0.0
    assert np.isnan(m["npv"])


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 2, 1], [0.1, 0.2, 0.3], "class indices 0..1"),
        ([0, 1, 1], [0.1, 1.2, 0.3], "probabilities in \\[0, 1\\]"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "finite"),
        ([0, 1, 1], [0.1, 0.3], "shape \\(3,\\)"),
        ([], [], "empty"),
        ([0.0, 0.5, 1.0], [0.1, 0.2, 0.3], "whole class indices"),
        (["a", "b"], [0.1, 0.2], "dtype"),
    ],
)
def test_binary_metrics_reject_bad_input_with_a_message(y, p, message):
    with pytest.raises(InvalidInputError, match=message):
        binary_metrics(y, p)


# -- multiclass --------------------------------------------------------------------------------


def test_multiclass_metrics_agree_with_sklearn(iris):
    y, proba = iris["y"], iris["proba"]
    names = ["setosa", "versicolor", "virginica"]
    m = multiclass_metrics(y, proba, names)
    y_pred = proba.argmax(axis=1)
    assert m["auroc_macro"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"), abs=1e-12)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, y_pred))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, y_pred))
    assert m["f1_macro"] == pytest.approx(f1_score(y, y_pred, average="macro"))
    assert m["brier"] == pytest.approx(brier_score_loss(y, proba, labels=[0, 1, 2]))
    assert m["log_loss"] == pytest.approx(log_loss(y, proba))
    for c, name in enumerate(names):
        assert m[f"auroc[{name}]"] == pytest.approx(roc_auc_score(y == c, proba[:, c]))
    assert "auroc[setosa]" not in multiclass_metrics(y, proba)


def test_multiclass_metrics_accept_float32_probabilities(iris):
    y, proba = iris["y"], iris["proba"].astype(np.float32)
    assert multiclass_metrics(y, proba)["log_loss"] == pytest.approx(
        log_loss(y, iris["proba"]), rel=1e-5
    )


def test_multiclass_metrics_with_a_class_absent(iris):
    keep = iris["y"] != 2
    y, proba = iris["y"][keep], iris["proba"][keep]
    m = multiclass_metrics(y, proba, ["a", "b", "c"])
    assert (
        np.isnan(m["auroc_macro"]) and np.isnan(m["balanced_accuracy"]) and np.isnan(m["auroc[c]"])
    )
    assert m["auroc[a]"] == pytest.approx(roc_auc_score(y == 0, proba[:, 0]))
    expected_f1 = f1_score(
        y, proba.argmax(axis=1), labels=[0, 1, 2], average="macro", zero_division=np.nan
    )
    assert m["f1_macro"] == pytest.approx(expected_f1)
    assert m["log_loss"] == pytest.approx(log_loss(y, proba, labels=[0, 1, 2]))


def test_multiclass_metrics_reject_bad_tables():
    with pytest.raises(InvalidInputError, match="sum to 1; row 1"):
        multiclass_metrics([0, 1], [[0.5, 0.5], [0.5, 0.2]])
    with pytest.raises(InvalidInputError, match="name each of the 2"):
        multiclass_metrics([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["a", "b", "c"])
    with pytest.raises(InvalidInputError, match="shape"):
        multiclass_metrics([0, 1], [0.5, 0.5])


# -- Youden ------------------------------------------------------------------------------------


def test_youden_threshold_maximises_j_on_out_of_fold_predictions(cancer):
    y, p = cancer["y_train"], cancer["p_train_oof"]
    t = youden_threshold(y, p)
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    m = binary_metrics(y, p, t)
    assert m["sensitivity"] + m["specificity"] - 1 == pytest.approx(np.max(tpr - fpr))
    assert t not in set(p)  # halfway between two observed scores
    assert 0.0 < t < 1.0


def test_youden_threshold_needs_both_classes():
    with pytest.raises(InvalidInputError, match="both classes"):
        youden_threshold([1, 1, 1], [0.2, 0.5, 0.9])


# -- regression --------------------------------------------------------------------------------


def test_regression_metrics_agree_with_sklearn():
    x, y = load_diabetes(return_X_y=True)
    pred = cross_val_predict(Ridge(alpha=1.0), x, y, cv=5)
    m = regression_metrics(y, pred)
    assert m == pytest.approx(
        {
            "mae": mean_absolute_error(y, pred),
            "rmse": root_mean_squared_error(y, pred),
            "r2": r2_score(y, pred),
            "median_ae": median_absolute_error(y, pred),
        }
    )


def test_regression_metrics_constant_target_has_no_r2():
    m = regression_metrics([5.0, 5.0, 5.0], [4.0, 5.0, 6.0])
    assert np.isnan(m["r2"]) and m["mae"] == pytest.approx(2 / 3)
    with pytest.raises(InvalidInputError, match="shape"):
        regression_metrics([1.0, 2.0], [1.0])


# -- bootstrap ---------------------------------------------------------------------------------


def test_bootstrap_ci_contains_point_estimate_for_every_binary_metric(cancer):
    y, p = cancer["y_test"], cancer["p_test"]
    ci = bootstrap_ci(binary_metrics, y, p, n_boot=400, seed=1)
    point = binary_metrics(y, p)
    assert set(ci) == set(point)
    for key, mv in ci.items():
        assert mv.value == pytest.approx(point[key]), key
        assert mv.ci_low is not None and mv.ci_high is not None, key
        assert mv.ci_low <= mv.value <= mv.ci_high, key
        assert mv.ci_high - mv.ci_low < 0.2, key


def test_bootstrap_ci_is_deterministic_by_seed(cancer):
    y, p = cancer["y_test"], cancer["p_test"]
    first = bootstrap_ci(binary_metrics, y, p, n_boot=150, seed=7)
    again = bootstrap_ci(binary_metrics, y, p, n_boot=150, seed=7)
    other = bootstrap_ci(binary_metrics, y, p, n_boot=150, seed=8)
    assert first == again
    assert first["auroc"] != other["auroc"]


def test_bootstrap_ci_narrows_with_more_data(cancer):
    y, p = cancer["y_all"], cancer["p_oof"]
    rng = np.random.default_rng(0)
    small = rng.choice(y.shape[0], size=100, replace=False)

    small_ci = bootstrap_ci(binary_metrics, y[small], p[small], n_boot=200, seed=0)
    full_ci = bootstrap_ci(binary_metrics, y, p, n_boot=200, seed=0)
    # Not sensitivity: at 100 rows it is 1.0 in every resample, a zero-width percentile interval.
    for key in ("auroc", "auprc", "accuracy", "brier"):
        full, part = full_ci[key], small_ci[key]
        assert full.ci_high - full.ci_low < part.ci_high - part.ci_low, key


def test_bootstrap_ci_stratified_resamples_keep_class_counts(cancer):
    y, p = cancer["y_test"], cancer["p_test"]
    seen: list[int] = []

    def positives(y_res: np.ndarray, _p: np.ndarray) -> dict[str, float]:
        seen.append(int(y_res.sum()))
        return {"n_pos": float(y_res.sum())}

    bootstrap_ci(positives, y, p, n_boot=50)
    assert set(seen) == {int(y.sum())}
    seen.clear()
    bootstrap_ci(positives, y, p, n_boot=50, stratify=False)
    assert len(set(seen)) > 1


def test_bootstrap_ci_gives_no_interval_for_rarely_defined_metrics():
    y = np.array([0, 1] * 10)
    score = np.arange(20) / 20

    def needs_two_rows(_y: np.ndarray, s: np.ndarray) -> dict[str, float | None]:
        # Defined only when both top rows are drawn: in ~40% of resamples.
        both = 0.95 in s and 0.9 in s
        return {"rare": float(s.mean()) if both else None, "mean": float(s.mean())}

    ci = bootstrap_ci(needs_two_rows, y, score, n_boot=200, stratify=False)
    assert ci["rare"].value is not None and ci["rare"].ci_low is None
    assert ci["mean"].ci_low is not None


def test_bootstrap_ci_edge_cases(iris):
    y, proba = iris["y"], iris["proba"]
    ci = bootstrap_ci(
        functools.partial(multiclass_metrics, classes=["a", "b", "c"]), y, proba, n_boot=60
    )
    assert ci["auroc[b]"].ci_low <= ci["auroc[b]"].value <= ci["auroc[b]"].ci_high
    no_ci = bootstrap_ci(binary_metrics, [0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6], n_boot=0)
    assert no_ci["auroc"].value == 1.0 and no_ci["auroc"].ci_low is None
    undefined = bootstrap_ci(binary_metrics, [0, 0, 0], [0.1, 0.8, 0.3], n_boot=20)
    assert undefined["auroc"].value is None and undefined["specificity"].ci_low is not None
    with pytest.raises(InvalidInputError, match="stratify=False"):
        bootstrap_ci(regression_metrics, [1.5, 2.5, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(InvalidInputError, match="as many rows"):
        bootstrap_ci(binary_metrics, [0, 1], [0.1, 0.2, 0.3])


# -- calibration -------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["quantile", "uniform"])
def test_reliability_curve_matches_sklearn_and_counts_every_row(cancer, strategy):
    y, p = cancer["y_all"], cancer["p_oof"]
    curve = reliability_curve(y, p, n_bins=10, strategy=strategy)
    fraction, mean_predicted = calibration_curve(y, p, n_bins=10, strategy=strategy)
    assert curve["fraction_positive"] == pytest.approx(list(fraction))
    assert curve["mean_predicted"] == pytest.approx(list(mean_predicted))
    assert sum(curve["count"]) == y.shape[0]
    assert len(curve["count"]) == len(fraction)


def test_expected_calibration_error():
    assert expected_calibration_error(
        [0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], n_bins=2
    ) == pytest.approx(0.175)
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20_000)
    calibrated = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(calibrated, p) < 0.02
    assert expected_calibration_error(calibrated, p**3) > 0.1


def test_reliability_curve_with_one_class_and_ties():
    curve = reliability_curve(np.zeros(12, dtype=int), np.full(12, 0.3))
    assert curve == {
        "mean_predicted": [pytest.approx(0.3)],
        "fraction_positive": [0.0],
        "count": [12],
    }
