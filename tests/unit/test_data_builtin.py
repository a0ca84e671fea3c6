"""The built-in datasets: they load with the expected shapes and classes, their recorded hashes
hold, and each one is reproduced byte for byte from its source by the derivations below
(which are the record of how the shipped files were made)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

import pytest

from medmaas.data._text import format_number
from medmaas.data.builtin import BUILTIN_DATASETS, builtin_data_file, load_builtin_dataset
from medmaas.data.readers import read_table
from medmaas.data.units import BUILTIN_COLUMN_INFO
from medmaas.exceptions import NotFoundError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "tabular"
README = Path(__file__).resolve().parents[2] / "src" / "medmaas" / "builtin" / "data" / "README.md"


# --- derivations: source file -> shipped CSV bytes ---------------------------------------


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def derive_breast_cancer_wdbc(shared: Path) -> bytes:
    """scikit-learn's breast_cancer.csv: a count line, 30 features and 0/1 -> named columns."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    # sklearn codes the target as an index into target_names: 0 = malignant, 1 = benign.
    labels = [str(name) for name in bunch.target_names]
    assert labels == ["malignant", "benign"]
    lines = (shared / "sklearn_breast_cancer_wdbc.csv").read_text().splitlines()
    n_rows, n_features = (int(v) for v in lines[0].split(",")[:2])
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == n_rows and all(len(r) == n_features + 1 for r in rows)
    header = [str(f) for f in bunch.feature_names] + ["diagnosis"]
    return _csv_bytes(header, [r[:-1] + [labels[int(r[-1])]] for r in rows])


def derive_heart_failure(shared: Path) -> bytes:
    """Copied unchanged."""
    return (shared / "heart_failure_clinical_records_dataset.csv").read_bytes()


def derive_chronic_kidney_disease(shared: Path) -> bytes:
    """The UCI ARFF read by medmaas' ARFF reader (values stripped, '?' missing), as CSV."""
    frame = read_table(shared / "uci_chronic_kidney_disease_full.arff")
    rows = [["" if v != v else v for v in row] for row in frame.itertuples(index=False)]
    return _csv_bytes(list(frame.columns), rows)


def derive_diabetes_progression(shared: Path) -> bytes:
    """scikit-learn's load_diabetes(scaled=False): original units, target as 'progression'."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    rows = [
        [format_number(v) for v in features] + [format_number(target)]
        for features, target in zip(bunch.data, bunch.target, strict=True)
    ]
    return _csv_bytes(list(bunch.feature_names) + ["progression"], rows)


DERIVATIONS = {
    "breast_cancer_wdbc": derive_breast_cancer_wdbc,
    "heart_failure": derive_heart_failure,
    "chronic_kidney_disease": derive_chronic_kidney_disease,
    "diabetes_progression": derive_diabetes_progression,
}


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", sorted(DERIVATIONS))
def test_shipped_file_is_reproduced_from_its_source(stem: str) -> None:
    if not SHARED.is_dir():
        pytest.skip("the shared source data is not on this machine")
    pytest.importorskip("sklearn")
    assert DERIVATIONS[stem](SHARED) == builtin_data_file(stem).read_bytes()


@pytest.mark.parametrize("stem", sorted(BUILTIN_DATASETS))
def test_recorded_hashes_match_the_files_and_the_readme(stem: str) -> None:
    digest = hashlib.sha256(builtin_data_file(stem).read_bytes()).hexdigest()
    assert digest == BUILTIN_DATASETS[stem].sha256
    section = README.read_text().split(f"## `{stem}.csv`", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"\*\*sha256\*\* `([0-9a-f]{64})`", section)[1] == digest


def test_wdbc_has_212_malignant_as_the_positive_class() -> None:
    ds = load_builtin_dataset("breast_cancer_wdbc")
    assert ds.X.shape == (569, 30)
    assert ds.classes == ("benign", "malignant")
    assert int(ds.y.sum()) == 212
    assert "mean radius" in ds.X.columns


def test_heart_failure_has_96_deaths_and_leaves_out_follow_up_time() -> None:
    ds = load_builtin_dataset("heart_failure")
    assert ds.X.shape == (299, 11)
    assert "time" not in ds.X.columns
    assert ds.classes == ("0", "1") and int(ds.y.sum()) == 96


def test_chronic_kidney_disease_has_250_ckd_and_sensible_types() -> None:
    ds = load_builtin_dataset("chronic_kidney_disease")
    assert ds.X.shape == (400, 24)
    assert ds.classes == ("notckd", "ckd") and int(ds.y.sum()) == 250
    types = {c.name: c for c in ds.columns}
    assert types["age"].type == "numeric" and types["age"].n_missing == 9
    assert types["rbc"].type == "categorical" and types["rbc"].categories == ("abnormal", "normal")
    assert types["sg"].type == "numeric" and types["sg"].maximum == 1.025
    assert types["htn"].type == "numeric"  # yes/no -> 1/0
    assert types["appet"].categories == ("good", "poor")


def test_diabetes_progression_is_regression_in_original_units() -> None:
    ds = load_builtin_dataset("diabetes_progression")
    assert ds.task == "regression"
    assert ds.X.shape == (442, 10)
    assert ds.y.between(25, 346).all()
    assert {c.name: c.maximum for c in ds.columns}["age"] == 79


def test_every_builtin_column_has_a_description() -> None:
    for stem in BUILTIN_DATASETS:
        header = read_table(builtin_data_file(stem).read_bytes(), name=f"{stem}.csv").columns
        assert set(header) == set(BUILTIN_COLUMN_INFO[stem]), stem


def test_unknown_builtin_dataset_lists_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="heart_failure"):
        load_builtin_dataset("heart")
