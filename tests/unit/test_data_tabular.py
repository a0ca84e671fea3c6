"""build_tabular_dataset: types, target encoding, dropped columns, and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from medmaas.data.dataset import frame_sha256
from medmaas.data.readers import read_table
from medmaas.data.tabular import build_tabular_dataset
from medmaas.exceptions import DataError, InvalidInputError


def _cohort(n: int = 20, seed: int = 0) -> pd.DataFrame:
    """A small mixed-type table as a CSV reader would give it (all text)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": [f" {v:.0f}" for v in rng.integers(20, 90, n)],
            "sex": rng.choice(["F", "M"], n),
            "smoker": rng.choice(["yes", "no"], n),
            "glucose": [f"{v:.1f}" for v in rng.normal(6, 1, n)],
            "outcome": ["yes", "no"] * (n // 2),
        }
    )


def _build(frame: pd.DataFrame, target: str = "outcome", **kwargs: object):
    return build_tabular_dataset(frame, target, name="t", source="test", **kwargs)  # type: ignore[arg-type]


# --- types --------------------------------------------------------------------------------


def test_types_are_inferred_from_text() -> None:
    ds = _build(_cohort())
    types = {c.name: c.type for c in ds.columns}
    assert types == {
        "age": "numeric",
        "sex": "categorical",
        "smoker": "numeric",
        "glucose": "numeric",
    }
    assert ds.X["age"].dtype == "float64"
    assert set(ds.X["smoker"]) == {0.0, 1.0}  # yes/no -> 1/0
    sex = next(c for c in ds.columns if c.name == "sex")
    assert sex.categories == ("F", "M") and sex.minimum is None


def test_numeric_info_and_missing_counts() -> None:
    frame = _cohort()
    frame.loc[[2, 5], "glucose"] = "NA"
    ds = _build(frame)
    glucose = next(c for c in ds.columns if c.name == "glucose")
    assert glucose.n_missing == 2
    assert glucose.minimum == pytest.approx(ds.X["glucose"].min())
    assert glucose.maximum == pytest.approx(ds.X["glucose"].max())


def test_few_distinct_numbers_stay_numeric_and_codes_with_leading_zeros_are_text() -> None:
    frame = _cohort()
    frame["grade"] = ["0", "1", "2", "1"] * 5
    frame["ward"] = ["007", "012", "007", "031"] * 5
    types = {c.name: c.type for c in _build(frame).columns}
    assert types["grade"] == "numeric" and types["ward"] == "categorical"


def test_a_typo_in_a_numeric_column_is_reported_by_row() -> None:
    frame = _cohort()
    frame.loc[6, "glucose"] = "5..2"
    ds = _build(frame)
    assert {c.name: c.type for c in ds.columns}["glucose"] == "categorical"
    assert any("'5..2' in row 7" in w for w in ds.warnings)


def test_typed_frames_work_too() -> None:
    frame = pd.DataFrame(
        {
            "age": pd.array([61, 47, None, 55] * 5, dtype="Int64"),
            "on_statin": [True, False] * 10,
            "stage": pd.Categorical(["I", "II", "III", "II"] * 5),
            "died": [0, 1] * 10,
        }
    )
    ds = _build(frame, "died")
    assert [c.type for c in ds.columns] == ["numeric", "numeric", "categorical"]
    assert ds.X["age"].isna().sum() == 5
    assert ds.classes == ("0", "1") and ds.y.tolist()[:2] == [0, 1]


def test_any_column_names_are_kept_as_given() -> None:
    frame = _cohort().rename(
        columns={"age": "Âge (années)", "glucose": " glucose mmol/L", "sex": "性别"}
    )
    ds = _build(frame)
    assert list(ds.X.columns) == ["Âge (années)", "性别", "smoker", " glucose mmol/L"]
    assert [c.name for c in ds.columns] == list(ds.X.columns)


def test_content_hash_is_of_the_frame_as_read_and_the_frame_is_not_changed() -> None:
    frame = _cohort()
    before = frame.copy()
    ds = _build(frame, drop=["sex"])
    assert ds.content_sha256 == frame_sha256(before)
    pd.testing.assert_frame_equal(frame, before)


# --- target -------------------------------------------------------------------------------


def test_yes_no_target_puts_yes_last() -> None:
    ds = _build(_cohort())
    assert ds.task == "classification"
    assert ds.classes == ("no", "yes")
    assert ds.y.tolist()[:4] == [1, 0, 1, 0] and ds.y.dtype == "int64"
    assert any("positive class: 'yes'" in w for w in ds.warnings)


@pytest.mark.parametrize(
    ("labels", "classes"),
    [
        (["ckd", "notckd"], ("notckd", "ckd")),
        (["M", "B"], ("B", "M")),
        (["benign", "malignant"], ("benign", "malignant")),
        (["Negative", "Positive"], ("Negative", "Positive")),
        (["present", "absent"], ("absent", "present")),
        (["1", "0"], ("0", "1")),
        (["smoker", "non-smoker"], ("non-smoker", "smoker")),
        (["red", "blue"], ("blue", "red")),
    ],
)
def test_binary_targets_end_with_the_positive_class(
    labels: list[str], classes: tuple[str, str]
) -> None:
    frame = _cohort()
    frame["outcome"] = labels * 10
    ds = _build(frame)
    assert ds.classes == classes
    assert ds.y.tolist()[:2] == [classes.index(labels[0]), classes.index(labels[1])]


def test_numeric_binary_target_from_floats_uses_plain_labels() -> None:
    frame = _cohort()
    frame["outcome"] = [1.0, 0.0] * 10
    ds = _build(frame)
    assert ds.classes == ("0", "1") and ds.y.tolist()[:2] == [1, 0]


def test_multiclass_order_is_stable_and_numeric_labels_sort_by_value() -> None:
    frame = _cohort()
    frame["outcome"] = ["10", "2", "1", "2"] * 5
    frame.loc[:4, "outcome"] = ["10", "2", "1", "10", "1"]
    ds = _build(frame)
    assert ds.classes == ("1", "2", "10")


def test_regression_is_inferred_for_many_distinct_numbers() -> None:
    frame = _cohort(40)
    frame["outcome"] = [f"{v:.2f}" for v in np.random.default_rng(1).normal(100, 20, 40)]
    ds = _build(frame)
    assert ds.task == "regression" and ds.classes == ()
    assert ds.y.dtype == "float64"
    assert any("task inferred as regression" in w for w in ds.warnings)


def test_classification_inference_is_said() -> None:
    assert any("task inferred as classification" in w for w in _build(_cohort()).warnings)


def test_rows_without_a_target_are_dropped_and_counted() -> None:
    frame = _cohort(24)
    frame.loc[[3, 8, 20], "outcome"] = ["NA", "", "?"]
    ds = _build(frame)
    assert ds.n_samples == 21
    assert any(
        "dropped 3 rows whose target 'outcome' is missing (rows 4, 9, 21)" in w for w in ds.warnings
    )


# --- target errors ----------------------------------------------------------------------------


def test_missing_target_column_suggests_the_closest_names() -> None:
    frame = _cohort().rename(columns={"outcome": "diagnosis"})
    with pytest.raises(
        DataError, match="target column 'diagnosys' is not in the table; did you mean 'diagnosis'"
    ):
        _build(frame, "diagnosys")
    with pytest.raises(DataError, match="did you mean 'diagnosis'"):
        _build(frame, "Diagnosis")
    with pytest.raises(DataError, match="the columns are 'age', 'sex'"):
        _build(frame, "zzz")


def test_target_with_one_class() -> None:
    frame = _cohort()
    frame["outcome"] = "yes"
    with pytest.raises(DataError, match=r"target 'outcome' has only one class \('yes'\)"):
        _build(frame)


def test_class_too_small_for_cross_validation() -> None:
    frame = _cohort()
    frame["outcome"] = ["no"] * 17 + ["yes"] * 3
    with pytest.raises(
        DataError,
        match="class 'yes' of target 'outcome' has 3 rows; 5-fold cross-validation needs at least 5",
    ):
        _build(frame)
    assert _build(frame, cv_folds=3).n_samples == 20
    with pytest.raises(DataError, match=r"needs at least 6 \(2 per fold\)"):
        _build(frame, cv_folds=3, min_rows_per_fold=2)


def test_fewer_rows_than_folds() -> None:
    with pytest.raises(
        DataError, match="the table has 4 rows; 5-fold cross-validation needs at least 5"
    ):
        _build(_cohort(4))


def test_regression_target_must_be_numeric() -> None:
    frame = _cohort()
    frame["outcome"] = [str(v) for v in range(20)]
    frame.loc[11, "outcome"] = "high"
    with pytest.raises(
        DataError, match="regression target 'outcome' must be numeric; got 'high' in row 12"
    ):
        _build(frame, task="regression")


def test_constant_regression_target() -> None:
    frame = _cohort()
    frame["outcome"] = "7.5"
    with pytest.raises(
        DataError, match="regression target 'outcome' has the same value in every row"
    ):
        _build(frame, task="regression")


def test_bad_arguments_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="task must be"):
        _build(_cohort(), task="survival")
    with pytest.raises(InvalidInputError, match="cv_folds"):
        _build(_cohort(), cv_folds=1)
    with pytest.raises(DataError, match="cannot also be a column to drop"):
        _build(_cohort(), drop=["outcome"])
    with pytest.raises(
        DataError, match="column to drop 'smokr' is not in the table; did you mean 'smoker'"
    ):
        _build(_cohort(), drop=["smokr"])


# --- dropped feature columns -------------------------------------------------------------------


def test_identifier_columns_are_dropped_with_a_warning() -> None:
    frame = _cohort()
    frame.insert(0, "MRN", [f"H{100 + i:05d}" for i in range(20)])
    frame.insert(1, "PatientID", range(1000, 1020))
    frame["platelets"] = [str(150 + 7 * i) for i in range(20)]  # unique integers, not an id
    ds = _build(frame)
    assert "MRN" not in ds.X.columns and "PatientID" not in ds.X.columns
    assert "platelets" in ds.X.columns
    assert any(
        "dropped column 'MRN': every value is different (an identifier?)" in w for w in ds.warnings
    )
    assert any("dropped column 'PatientID'" in w for w in ds.warnings)


def test_all_missing_constant_and_requested_columns_are_dropped() -> None:
    frame = _cohort()
    frame["empty"] = ["NA"] * 20
    frame["site"] = ["Leeds"] * 20
    frame["time"] = [str(i % 7) for i in range(20)]
    ds = _build(frame, drop=["time"])
    assert list(ds.X.columns) == ["age", "sex", "smoker", "glucose"]
    joined = "\n".join(ds.warnings)
    assert "dropped column 'empty': every value is missing" in joined
    assert "dropped column 'site': it is 'Leeds' in every row (constant)" in joined
    assert "dropped column 'time' as requested" in joined


def test_infinite_feature_names_column_and_row() -> None:
    frame = _cohort()
    frame.loc[[0], "outcome"] = "NA"  # row numbers still refer to the table as given
    frame.loc[16, "glucose"] = "inf"
    with pytest.raises(
        DataError, match=r"column 'glucose' has an infinite value \(inf\) in row 17"
    ):
        _build(frame)
    typed = pd.DataFrame({"x": [1.0, 2.0, -np.inf, 3.0] * 5, "y": [0, 1] * 10})
    with pytest.raises(DataError, match="column 'x' has an infinite value .* in row 3"):
        _build(typed, "y")


def test_no_features_left() -> None:
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(10)], "y": ["a", "b"] * 5})
    with pytest.raises(
        DataError, match="no feature columns are left.*'id': every value is different"
    ):
        _build(frame, "y")


# --- end to end from a file --------------------------------------------------------------------


def test_csv_upload_to_dataset() -> None:
    rows = "\n".join(
        f"P{i:03d}; {50 + i} ;{'yes' if i % 3 else 'no'};{'M' if i % 2 else 'B'}" for i in range(30)
    )
    frame = read_table(f"patient;age;htn;diagnosis\n{rows}\n".encode(), name="up.csv")
    ds = build_tabular_dataset(frame, "diagnosis", name="demo", source="up.csv")
    assert list(ds.X.columns) == ["age", "htn"]
    assert ds.classes == ("B", "M") and int(ds.y.sum()) == 15
    summary = ds.summary()
    assert summary["class_counts"] == {"B": 15, "M": 15}
    assert not any(isinstance(v, float) and math.isnan(v) for v in ds.X["age"])
