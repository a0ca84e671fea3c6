"""Every evaluation figure is a real 800x600 PNG, written where asked, for every task shape."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medmaas.exceptions import InvalidInputError
from medmaas.metrics import evaluate
from medmaas.metrics.plots import (
    calibration_png,
    confusion_png,
    importance_png,
    multiclass_roc_png,
    pr_png,
    regression_png,
    roc_png,
    write_plots,
)

pytestmark = pytest.mark.filterwarnings("error")


def assert_png(data: bytes) -> None:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (800, 600)


@pytest.fixture(scope="module")
def cancer() -> dict[str, object]:
    data = load_breast_cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1))
    proba = cross_val_predict(model, data.data, data.target, cv=5, method="predict_proba")
    coef = model.fit(data.data, data.target)[-1].coef_[0]
    return {
        "y": data.target,
        "p": proba[:, 1],
        "proba": proba,
        "importance": dict(zip(data.feature_names, coef, strict=True)),
    }


def test_binary_plots_are_pngs(cancer, tmp_path):
    y, p = cancer["y"], cancer["p"]
    assert_png(roc_png(y, p, (0.97, 0.99), threshold=0.5))
    assert_png(pr_png(y, p, threshold=0.5))
    assert_png(calibration_png(y, p))
    assert_png(confusion_png([[200, 12], [9, 348]], ["malignant", "benign"]))
    data = importance_png(cancer["importance"], top=10, path=tmp_path / "sub" / "importance.png")
    assert_png(data)
    assert (tmp_path / "sub" / "importance.png").read_bytes() == data


def test_multiclass_and_regression_plots_are_pngs():
    x, y = load_iris(return_X_y=True)
    proba = cross_val_predict(LogisticRegression(C=0.05), x, y, cv=5, method="predict_proba")
    assert_png(
        multiclass_roc_png(y, proba, ["setosa", "versicolor", "virginica"], {"setosa": (0.99, 1.0)})
    )
    x, y = load_diabetes(return_X_y=True)
    assert_png(
        regression_png(y, cross_val_predict(Ridge(), x, y, cv=5), unit="disease progression")
    )


def test_write_plots_binary_uses_the_evaluation(cancer, tmp_path):
    y, proba = cancer["y"], cancer["proba"]
    ev = evaluate(
        "classification",
        y,
        proba,
        classes=["malignant", "benign"],
        threshold=0.6,
        n_boot=50,
        split_description="5-fold out-of-fold",
        n_train=0,
    )
    names = write_plots(
        "classification",
        y,
        proba,
        classes=["malignant", "benign"],
        directory=tmp_path,
        evaluation=ev,
        importance=cancer["importance"],
    )
    assert names == ["roc.png", "pr.png", "calibration.png", "confusion.png", "importance.png"]
    for name in names:
        assert_png((tmp_path / name).read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)  # no temp files left


def test_write_plots_multiclass_and_regression(tmp_path):
    x, y = load_iris(return_X_y=True)
    proba = cross_val_predict(LogisticRegression(C=0.05), x, y, cv=5, method="predict_proba")
    names = write_plots(
        "classification",
        y,
        proba,
        classes=["setosa", "versicolor", "virginica"],
        directory=tmp_path / "mc",
    )
    assert names == ["roc.png", "calibration.png", "confusion.png"]
    x, y = load_diabetes(return_X_y=True)
    names = write_plots(
        "regression", y, cross_val_predict(Ridge(), x, y, cv=5), directory=tmp_path / "reg"
    )
    assert names == ["regression.png"]
    assert_png((tmp_path / "reg" / "regression.png").read_bytes())


def test_degenerate_inputs(tmp_path):
    one_class = np.zeros(30, dtype=int)
    constant = np.full(30, 0.2)
    with pytest.raises(InvalidInputError, match="both classes"):
        roc_png(one_class, constant)
    # A hold-out with one class has no ROC or PR curve; the rest is still drawn.
    names = write_plots(
        "classification", one_class, constant, classes=["no", "yes"], directory=tmp_path
    )
    assert names == ["calibration.png", "confusion.png"]
    assert_png(roc_png(np.array([0, 1] * 15), constant))  # constant scores: the chance diagonal
    assert_png(regression_png(np.full(20, 3.0), np.linspace(2, 4, 20)))  # constant target: no R²
    with pytest.raises(InvalidInputError, match="2x2"):
        confusion_png([[1, 2, 3]], ["a", "b"])
    with pytest.raises(InvalidInputError, match="empty"):
        importance_png({})
