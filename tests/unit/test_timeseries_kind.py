"""The timeseries kind: training sources are read and validated (PhysioNet archive or folder,
long tables), the hourly representation means what it says, every candidate (the ensemble as one
graph holding both models) exports to ONNX that agrees with the native model, the ensemble is
shipped unless a single model clearly beats it on validation, requests are validated with messages naming the row, and
explanations cover every variable and every hour."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import SHARED_DATA
from tests.timeseries_builders import VARIABLES, timeseries_dataset

import medmaas.kinds.timeseries  # noqa: F401  (registers the kind until base.py loads it)
from medmaas.exceptions import DataError, PayloadTooLargeError, SchemaError
from medmaas.kinds.timeseries.kind import TimeSeriesKind
from medmaas.kinds.timeseries.physionet import STATICS
from medmaas.kinds.timeseries.reading import read_timeseries_dataset
from medmaas.kinds.timeseries.representation import fit_scaling, hourly_grid, standardise, summaries
from medmaas.runtime.loaded import load_bundle
from medmaas.training.train import PARITY_TOLERANCE, parity

ARCHIVE = SHARED_DATA / "signals" / "physionet2012_set-a.tar.gz"


def _stay_text(record_id: int, rows: list[str], *, age: int = 60, weight: str = "-1") -> str:
    head = [f"00:00,RecordID,{record_id}", f"00:00,Age,{age}", "00:00,Gender,1", "00:00,Height,-1",
            "00:00,ICUType,3", f"00:00,Weight,{weight}"]
    return "\n".join(["Time,Parameter,Value", *head, *rows]) + "\n"


def _physionet_folder(directory: Path, n: int = 10) -> Path:
    lines = ["RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death"]
    for i in range(n):
        rows = ["00:07,HR,73", "00:37,HR,77", "01:37,HR,60", "02:00,Lactate,2.5", "03:10,Weight,81",
                "05:00,Foo,1"]
        if i == 0:
            rows.append("49:30,HR,90")  # after the 48-hour window
        (directory / f"{132500 + i}.txt").write_text(_stay_text(132500 + i, rows, weight="80"))
        lines.append(f"{132500 + i},10,5,7,-1,{i % 2}")
    (directory / "Outcomes-a.txt").write_text("\n".join(lines) + "\n")
    return directory


# ---- reading ---------------------------------------------------------------------------------
def test_reads_the_physionet_2012_archive() -> None:
    if not ARCHIVE.exists():
        pytest.skip(f"{ARCHIVE} is not on this machine")
    ds = read_timeseries_dataset(ARCHIVE, name="icu", max_stays=60)
    assert ds.n_samples == 60 and ds.classes == ("survived", "died")
    assert len(ds.variable_names) == 37 and "Lactate" in ds.variable_names
    assert ds.times.max() <= 48 and ds.times.min() >= 0
    ages = ds.statics[:, STATICS.index("Age")]
    assert np.isfinite(ages).all() and ages.min() >= 15 and ages.max() <= 100
    summary = ds.summary()
    assert summary["n_samples"] == 60 and "stay_ids" not in summary
    assert not any(ds.stay_ids[0] in str(v) for v in summary.values())  # no row-level data in the card


def test_reads_a_folder_of_stays_with_warnings(tmp_path: Path) -> None:
    ds = read_timeseries_dataset(_physionet_folder(tmp_path), name="icu")
    assert ds.n_samples == 10 and np.bincount(ds.y).tolist() == [5, 5]
    first = ds.stay(0)
    names = [ds.variable_names[v] for v in first.variables]
    assert names == ["HR", "HR", "HR", "Lactate", "Weight"]  # Foo and the 49:30 row left out
    np.testing.assert_allclose(first.times, [7 / 60, 37 / 60, 97 / 60, 2.0, 3 + 10 / 60])
    statics = dict(zip(STATICS, first.statics, strict=True))
    assert statics["Age"] == 60 and statics["Weight"] == 80 and np.isnan(statics["Height"])
    text = " ".join(ds.warnings)
    assert "Foo (10)" in text and "after hour 48" in text


def test_reads_a_long_table_with_an_outcome_column_or_file(tmp_path: Path) -> None:
    rows = ["stay_id,time,parameter,value,died"]
    for i in range(12):
        rows += [f"s{i},{m},HR,{70 + i}," + str(i % 2) for m in (5, 65, 125)]
        rows += [f"s{i},30,Lactate,{1 + i % 2},{i % 2}", f"s{i},3000,HR,99,{i % 2}"]
    table = tmp_path / "long.csv"
    table.write_text("\n".join(rows) + "\n")
    ds = read_timeseries_dataset(table, name="t", target="died", time_unit="minutes")
    assert ds.n_samples == 12 and ds.variable_names == ("HR", "Lactate") and ds.classes == ("0", "1")
    np.testing.assert_allclose(ds.stay(0).times, [5 / 60, 0.5, 65 / 60, 125 / 60])
    assert any("after hour 48" in w for w in ds.warnings)  # 3000 minutes = 50 h

    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("stay_id,death\n" + "".join(f"s{i},{'yes' if i % 2 else 'no'}\n" for i in range(12)))
    (tmp_path / "measures.csv").write_text("\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    ds = read_timeseries_dataset(tmp_path / "measures.csv", name="t", target="death", outcomes=outcomes,
                                 time_unit="minutes", parameters=["HR"])
    assert ds.classes == ("no", "yes") and ds.variable_names == ("HR",)
    assert any("Lactate (12)" in w for w in ds.warnings)


@pytest.mark.parametrize(("row", "message"), [
    ("-01:00,HR,80", "before admission"),
    ("nan,HR,80", "is not a time"),
    ("02:00,HR,abc", "must be a finite number"),
    ("02:00,HR,nan", "must be a finite number"),
])
def test_bad_training_rows_name_the_stay_and_line(tmp_path: Path, row: str, message: str) -> None:
    folder = _physionet_folder(tmp_path)
    (folder / "132503.txt").write_text(_stay_text(132503, ["00:07,HR,73", row]))
    with pytest.raises(DataError, match=rf"stay 132503, line 9: .*{message}"):
        read_timeseries_dataset(folder, name="icu")


def test_a_source_without_outcomes_or_with_one_class_is_refused(tmp_path: Path) -> None:
    folder = _physionet_folder(tmp_path)
    (folder / "Outcomes-a.txt").unlink()
    with pytest.raises(DataError, match="no outcomes file"):
        read_timeseries_dataset(folder, name="icu")
    (folder / "Outcomes-a.txt").write_text("RecordID,In-hospital_death\n" +
                                           "".join(f"{132500 + i},0\n" for i in range(10)))
    with pytest.raises(DataError, match="at least 5 stays in each of at least two"):
        read_timeseries_dataset(folder, name="icu")


def test_a_tar_archive_is_read_without_extracting(tmp_path: Path) -> None:
    folder = tmp_path / "set-a"
    folder.mkdir()
    _physionet_folder(folder)
    archive = tmp_path / "set.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="set-a")
    assert read_timeseries_dataset(archive, name="icu").n_samples == 10


# ---- representation --------------------------------------------------------------------------
def test_hourly_grid_last_value_forward_fill_mask_and_delta() -> None:
    names = ("HR", "Lactate")
    # HR at 0:10 (70) and 0:50 (90) -> hour 0 holds 90; Lactate only at 2:30.
    times, variables, values = np.array([10 / 60, 50 / 60, 2.5]), np.array([0, 0, 1]), np.array([70.0, 90.0, 4.0])
    scaling = fit_scaling(names, np.array([0, 0, 1, 1]), np.array([70.0, 90.0, 2.0, 4.0]),
                          np.full((1, len(STATICS)), np.nan), hours=4)
    offsets = np.array([0, 3])
    grid, mask, delta = hourly_grid(scaling, offsets, times, variables, values)
    z70, z_hr, z_lac = standardise(scaling, np.array([0, 0, 1]), np.array([70.0, 90.0, 4.0]))
    assert z70 < 0 < z_hr and z_lac > 0  # clipped to the training percentiles, then standardised
    np.testing.assert_allclose(grid[0, :, 0], [z_hr] * 4, rtol=1e-6)  # carried forward
    np.testing.assert_allclose(grid[0, :, 1], [0, 0, z_lac, z_lac], rtol=1e-6)  # the mean before the first
    assert mask[0, :, 0].tolist() == [1, 0, 0, 0] and mask[0, :, 1].tolist() == [0, 0, 1, 0]
    np.testing.assert_allclose(delta[0, :, 0] * 4, [1 - 50 / 60, 2 - 50 / 60, 3 - 50 / 60, 4 - 50 / 60], rtol=1e-5)
    np.testing.assert_allclose(delta[0, :, 1] * 4, [1, 2, 0.5, 1.5], rtol=1e-5)
    features = summaries(scaling, offsets, times, variables, values).reshape(2, -1)
    np.testing.assert_allclose(features[0], [z70, z_hr, z70, z_hr, (z70 + z_hr) / 2, 2], rtol=1e-5)


# ---- fit, export, parity, serving ------------------------------------------------------------
@pytest.fixture(scope="module", params=["gru", "gradient-boosting", "ensemble"])
def fitted(request, tmp_path_factory):  # type: ignore[no-untyped-def]
    options = {"gru": {"candidates": ["gru"], "epochs": 8, "hidden": 16},
               "gradient-boosting": {"candidates": ["gradient-boosting"], "trees": 30},
               # no candidates named: all three are fitted and the ensemble is the default choice
               "ensemble": {"epochs": 4, "hidden": 16, "trees": 30, "gru_seeds": 2}}[request.param]
    kind = TimeSeriesKind(random_state=0, **options)
    train, test, how = kind.split(timeseries_dataset(n=120, seed=2))
    assert "hold-out" in how and kind.fit(train) is kind
    directory = tmp_path_factory.mktemp(request.param)
    spec = kind.export(directory, train)
    (directory / "spec.json").write_text(spec.model_dump_json())
    return kind, test, load_bundle(directory)


def test_onnx_agrees_with_the_native_model(fitted) -> None:  # type: ignore[no-untyped-def]
    kind, test, model = fitted
    assert model.spec.estimator == kind.estimator_ and kind.val_auroc_ > 0.7
    assert not list(model.bundle_dir.rglob("*.pkl")) and not list(model.bundle_dir.rglob("*.pt"))
    native = kind.predict_native(test)
    onnx = model.kind.scores(model.spec, model.run(kind.onnx_inputs(test).feeds))
    assert native.shape == onnx.shape == (test.n_samples, 2)
    assert parity("classification", native, onnx) <= PARITY_TOLERANCE


@pytest.mark.parametrize("fitted", ["ensemble"], indirect=True)
def test_the_ensemble_is_one_graph_averaging_both_models(fitted) -> None:  # type: ignore[no-untyped-def]
    import onnx
    import torch

    kind, test, model = fitted
    assert kind.estimator_ == "ensemble" and [s.name for s in kind.cv_scores_] == ["gru", "gradient-boosting", "ensemble"]
    assert "ensemble" in kind.extra_card()["selection"] and kind.details_["gru"]["network"]["seeds"] == 2
    graph = onnx.load(model.bundle_dir / "model.onnx").graph
    assert [i.name for i in graph.input] == ["values", "mask", "delta", "statics", "features"]
    assert [o.name for o in graph.output] == ["probabilities"]
    assert {n.op_type for n in graph.node} >= {"GRU", "TreeEnsembleClassifier", "Add", "Mul"}
    inputs = kind._inputs(test)
    with torch.no_grad():
        gru = kind.models_["gru"](*(torch.from_numpy(inputs[n]) for n in ("values", "mask", "delta", "statics")))
    trees = kind.models_["gradient-boosting"].predict_proba(inputs["features"])
    np.testing.assert_allclose(kind.predict_native(test), (gru.numpy() + trees) / 2, atol=1e-6)


@pytest.mark.parametrize(("scores", "chosen"), [
    ({"gru": 0.80, "gradient-boosting": 0.84, "ensemble": 0.83}, "ensemble"),  # within one standard error
    ({"gru": 0.70, "gradient-boosting": 0.84, "ensemble": 0.76}, "gradient-boosting"),  # clearly better
    ({"gru": 0.80, "gradient-boosting": 0.84}, "gradient-boosting"),  # no ensemble: the best
])
def test_selection_prefers_the_ensemble_unless_clearly_beaten(scores, chosen) -> None:  # type: ignore[no-untyped-def]
    from medmaas.kinds.timeseries.kind import _select

    y_val = np.r_[np.ones(65, np.int64), np.zeros(415, np.int64)]  # a 480-stay validation split
    name, why = _select(scores, y_val)
    assert name == chosen and chosen in why


def test_json_rows_round_trip_to_the_same_answers(fitted) -> None:  # type: ignore[no-untyped-def]
    kind, test, model = fitted
    batch = kind.onnx_inputs(test)
    decoded = model.decode({"rows": batch.records[:4]})
    for name, array in batch.feeds.items():
        np.testing.assert_allclose(decoded.feeds[name], array[:4], atol=1e-6)
    answers = model.predict(decoded)
    proba = kind.predict_native(test)[:4]
    for answer, p in zip(answers, proba, strict=True):
        assert answer["probability"] == pytest.approx(p[1], abs=1e-5)
        assert answer["prediction"] == ("died" if answer["probability"] >= model.spec.output.threshold else "survived")
        assert set(answer["prediction_set"]) <= {"survived", "died"} and answer["warnings"] == []
        assert answer["input"]["measurements"] > 0


def test_a_physionet_file_decodes_like_the_same_stay_as_json(fitted) -> None:  # type: ignore[no-untyped-def]
    _, _, model = fitted
    rows = ["00:07,HR,73", "00:37,HR,77", "03:00,Lactate,4.1", "03:00,GCS,8", "12:30,MAP,65", "30:00,Urine,20",
            "47:59,HR,120", "48:00,Temp,38.5", "49:00,HR,130", "05:00,Cholesterol,150"]
    file_batch = model.kind.decode_file(model.spec, _stay_text(1, rows, age=70, weight="75").encode(), "1.txt")
    json_batch = model.decode({"rows": [{
        "measurements": [{"time": r.split(",")[0], "parameter": r.split(",")[1], "value": float(r.split(",")[2])}
                         for r in rows],
        "statics": {"age": 70, "gender": "male", "weight": 75, "icu_type": "MICU"}}]})
    for name in file_batch.feeds:
        np.testing.assert_allclose(file_batch.feeds[name], json_batch.feeds[name])
    notes = " ".join(file_batch.warnings[0])
    assert "Cholesterol (1)" in notes and "after hour 48" in notes and "only 8 measurements" in notes
    assert model.predict(file_batch)[0]["input"]["file"] == "1.txt"


@pytest.mark.parametrize(("row", "error", "message"), [
    ({"measurements": []}, SchemaError, "row 0: 'measurements' must be a non-empty list.*the stay is empty"),
    ({"measurements": [{"time": "01:00", "parameter": "HR", "value": float("nan")}]}, SchemaError,
     r"row 0, measurement 0: the value of HR must be a finite number"),
    ({"measurements": [{"time": -2, "parameter": "HR", "value": 80}]}, SchemaError,
     "row 0, measurement 0: time -2 is before admission"),
    ({"measurements": [{"time": "1h", "parameter": "HR", "value": 80}]}, SchemaError, "is not a time"),
    ({"measurements": [{"time": 1, "parameter": "HR"}]}, SchemaError, "measurement 0: expected"),
    ({"measurements": [{"time": 1, "parameter": "HR", "value": 1}], "statics": {"bmi": 30}}, SchemaError,
     "unknown static descriptor 'bmi'"),
    ({"measurements": [{"time": 1, "parameter": "HR", "value": 1}], "statics": {"gender": "x"}}, SchemaError,
     "statics.gender: 'x' is neither a number nor one of female"),
    ({"measurement": []}, SchemaError, "unknown field"),
    ({"measurements": [{"time": 1, "parameter": "HR", "value": 1}] * 20_001}, PayloadTooLargeError,
     "20001 measurements exceed the limit of 20000 per stay"),
])
def test_bad_requests_say_what_and_where(fitted, row, error, message) -> None:  # type: ignore[no-untyped-def]
    _, _, model = fitted
    with pytest.raises(error, match=message):
        model.decode({"rows": [row]})


def test_request_warnings_and_limits(fitted) -> None:  # type: ignore[no-untyped-def]
    _, _, model = fitted
    batch = model.decode({"rows": [{"measurements": [
        {"time": "01:00", "parameter": "hr", "value": 80},  # names match without regard to case
        {"time": 50, "parameter": "HR", "value": 80},
        {"time": 2, "parameter": "SpO2", "value": 97}]}]})
    notes = " ".join(batch.warnings[0])
    assert "SpO2 (1)" in notes and "after hour 48" in notes and "only 1 measurement in" in notes
    assert batch.records[0]["measurements"] == [{"time": 1.0, "parameter": "HR", "value": 80.0}]
    with pytest.raises(PayloadTooLargeError, match="stays exceed the limit of 256"):
        model.decode({"rows": [{"measurements": [{"time": 1, "parameter": "HR", "value": 1}]}] * 257})
    body = ("Time,Parameter,Value\n" + "01:00,HR,80\n" * 900_000).encode()  # ~10 MB
    assert len(body) > 10_000_000
    with pytest.raises(PayloadTooLargeError, match=r"one stay's file may be at most 2 MiB"):
        model.kind.decode_file(model.spec, body, "big.txt")
    with pytest.raises(SchemaError, match="empty.txt: the file is empty"):
        model.kind.decode_file(model.spec, b"", "empty.txt")
    with pytest.raises(SchemaError, match="first line must be the header"):
        model.kind.decode_file(model.spec, b"a;b;c\n", "x.txt")


def test_explain_covers_variables_segments_and_hours(fitted) -> None:  # type: ignore[no-untyped-def]
    kind, test, model = fitted
    rows = kind.onnx_inputs(test).records[:2]
    batch = model.decode({"rows": rows})
    answers = model.predict(batch)
    explained = model.explain(batch, top_k=3)
    for item, answer, row in zip(explained, answers, rows, strict=True):
        assert item["explained_class"] == "died" and item["probability"] == pytest.approx(answer["probability"],
                                                                                          abs=1e-6)
        assert 0 < len(item["top_variables"]) <= 3
        magnitudes = [abs(v["contribution"]) for v in item["top_variables"]]
        assert magnitudes == sorted(magnitudes, reverse=True)
        assert [s["hours"] for s in item["segments"]] == [[a, a + 6] for a in range(0, 48, 6)]
        heatmap = np.asarray(item["heatmap"]["contribution"])
        assert heatmap.shape == (len(VARIABLES), 48) and item["heatmap"]["variables"] == list(VARIABLES)
        measured = {(VARIABLES.index(m["parameter"]), int(m["time"])) for m in row["measurements"]}
        assert all((v, h) in measured for v, h in zip(*np.nonzero(heatmap), strict=True))
        # Trees may not move for one variable-hour among many; a whole variable moves them.
        assert np.isfinite(heatmap).all() and max(magnitudes) > 0
        if "heatmap_png" in item:  # matplotlib is a training extra
            from PIL import Image

            assert Image.open(io.BytesIO(base64.b64decode(item["heatmap_png"]))).format == "PNG"
    importance = model.kind.global_importance(model.spec, model.bundle_dir, model.run, batch)
    assert set(importance) <= set(VARIABLES) and all(v >= 0 for v in importance.values())


def test_explain_without_matplotlib_leaves_out_the_png(fitted, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    kind, test, model = fitted
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import now raises ImportError
    item = model.explain(model.decode({"rows": kind.onnx_inputs(test).records[:1]}))[0]
    assert "heatmap_png" not in item and len(item["heatmap"]["contribution"]) == len(VARIABLES)


def test_unknown_candidates_and_wrong_datasets_are_refused() -> None:
    from medmaas.exceptions import InvalidInputError

    with pytest.raises(InvalidInputError, match="unknown timeseries candidate"):
        TimeSeriesKind(candidates=["lstm"]).fit(timeseries_dataset(n=40))
    with pytest.raises(InvalidInputError, match="gru_seeds must be a whole number of at least 1; got 0"):
        TimeSeriesKind(gru_seeds=0).fit(timeseries_dataset(n=40))
    with pytest.raises(InvalidInputError, match="needs a TimeSeriesDataset"):
        TimeSeriesKind().split(object())  # type: ignore[arg-type]


def test_subset_keeps_each_stays_measurements() -> None:
    ds = timeseries_dataset(n=30, seed=5)
    part = ds.subset(np.array([7, 2]))
    for new, old in enumerate((7, 2)):
        a, b = part.stay(new), ds.stay(old)
        np.testing.assert_array_equal(a.times, b.times)
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.statics, b.statics)
    assert part.y.tolist() == [ds.y[7], ds.y[2]] and part.stay_ids == (ds.stay_ids[7], ds.stay_ids[2])
