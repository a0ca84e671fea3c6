"""ECG models over HTTP: a WFDB record (header + data, or a zip), a CSV or JSON samples in;
a label per beat, the rhythm summary and, on request, a drawn explanation out. Bad recordings
get a 4xx that says what is wrong, and nothing is recorded for them."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import serve
from tests.signal_builders import beat_dataset, synthetic_ecg, write_record

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ecg_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmaas.registry import Registry
    from medmaas.settings import Settings
    from medmaas.training.train import TrainOptions, train_model

    home = tmp_path_factory.mktemp("ecg-home")
    registry = Registry.open(Settings(home=home))
    result = train_model(beat_dataset(n_records=6, seconds=60), name="ecg", registry=registry, actor="test",
                         options=TrainOptions(kind="signal", candidates=["gradient-boosting"], n_boot=100))
    registry.promote("ecg", int(result.version or 0), "production", actor="test")
    registry.close()
    return home


@pytest.fixture()
def ecg_api(ecg_home: Path, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    import shutil

    shutil.copytree(ecg_home, tmp_path / "home")
    yield from serve(tmp_path / "home")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _record(tmp_path: Path, seconds: float = 60.0) -> dict[str, bytes]:
    write_record(tmp_path, "rec", seconds=seconds, seed=42, v_every=4)
    return {n: (tmp_path / n).read_bytes() for n in ("rec.hea", "rec.dat")}


def _predict_events(client: Any, keys: dict[str, str]) -> list[dict[str, Any]]:
    return client.get("/v1/audit?n=200&action=model.predict", headers=_auth(keys["auditor"])).json()


def test_wfdb_record_upload_labels_every_beat(ecg_api: Any, tmp_path: Path) -> None:
    client, keys = ecg_api
    files = _record(tmp_path)
    response = client.post("/v1/models/ecg/predict/file", headers=_auth(keys["clinician"]),
                           files=[("file", (name, data)) for name, data in files.items()])
    assert response.status_code == 200, response.text
    (answer,) = response.json()["predictions"]
    labels = [b["label"] for b in answer["beats"]]
    assert len(labels) >= 70 and labels.count("V") >= 15  # one beat in four is ventricular
    assert answer["summary"]["counts"]["V"] == labels.count("V")
    assert answer["recording"]["lead"] == "MLII" and answer["recording"]["sampling_rate"] == 360
    assert any("ventricular" in f for f in answer["summary"]["findings"])
    event = _predict_events(client, keys)[0]
    assert event["detail"]["rows"] == len(labels)  # beats, never samples


def test_zip_csv_and_json_recordings_are_answered(ecg_api: Any, tmp_path: Path) -> None:
    client, keys = ecg_api
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in _record(tmp_path).items():
            archive.writestr(name, data)
    zipped = client.post("/v1/models/ecg/predict/file?filename=rec.zip", headers=_auth(keys["clinician"]),
                         content=out.getvalue())
    assert zipped.status_code == 200, zipped.text
    signal, peaks, _ = synthetic_ecg(seconds=30, fs=250, seed=3)
    csv = ("II\n" + "\n".join(f"{v:.4f}" for v in signal)).encode()
    by_csv = client.post("/v1/models/ecg/predict/file?filename=ecg.csv&sampling_rate=250",
                         headers=_auth(keys["clinician"]), content=csv)
    assert by_csv.status_code == 200, by_csv.text
    by_json = client.post("/v1/models/ecg/predict", headers=_auth(keys["clinician"]),
                          json={"rows": [{"signal": signal.round(4).tolist(), "sampling_rate": 250}]})
    assert by_json.status_code == 200, by_json.text
    assert by_json.json()["predictions"][0]["beats"] == by_csv.json()["predictions"][0]["beats"]
    assert abs(len(by_json.json()["predictions"][0]["beats"]) - len(peaks)) <= 2


def test_explain_draws_the_beats_that_matter(ecg_api: Any, tmp_path: Path) -> None:
    client, keys = ecg_api
    files = _record(tmp_path)
    response = client.post("/v1/models/ecg/explain/file", headers=_auth(keys["clinician"]),
                           files=[("file", (name, data)) for name, data in files.items()])
    assert response.status_code == 200, response.text
    explanation = response.json()["predictions"][0]["explanation"]
    assert {b["label"] for b in explanation["beats"]} >= {"V", "N"}
    assert base64.b64decode(explanation["png_base64"])[:4] == b"\x89PNG"


@pytest.mark.parametrize(("case", "status", "message"), [
    ("header-only", 422, "names the data file 'rec.dat', which was not uploaded"),
    ("short-data", 422, "fewer samples than its header says"),
    ("no-rate", 422, "unknown sampling rate"),
    ("nan-run", 422, "missing samples (NaN) in a row"),
    ("too-short", 422, "at least 2 s is needed"),
    ("ten-hours", 413, "one request takes at most 2 h"),
    ("unknown-option", 422, "unknown option(s) 'gain'"),
    ("adc-counts", 422, "send millivolts"),
])
def test_bad_recordings_get_a_clear_4xx_and_nothing_is_recorded(ecg_api: Any, tmp_path: Path, case: str,
                                                                status: int, message: str) -> None:
    client, keys = ecg_api
    files = _record(tmp_path, seconds=20)
    signal, _, _ = synthetic_ecg(seconds=20, fs=250, seed=1)
    url, kwargs = "/v1/models/ecg/predict/file", {}
    if case == "header-only":
        kwargs = {"files": [("file", ("rec.hea", files["rec.hea"]))]}
    elif case == "short-data":
        kwargs = {"files": [("file", ("rec.hea", files["rec.hea"])), ("file", ("rec.dat", files["rec.dat"][:-10]))]}
    elif case == "no-rate":
        url += "?filename=ecg.csv"
        kwargs = {"content": ("II\n" + "\n".join(map(str, signal))).encode()}
    elif case == "ten-hours":
        header = files["rec.hea"].decode().replace(" 7200", f" {360 * 36000}", 1)
        kwargs = {"files": [("file", ("rec.hea", header.encode())), ("file", ("rec.dat", b"\0"))]}
    elif case == "unknown-option":
        url += "?filename=ecg.csv&sampling_rate=250&gain=2"
        kwargs = {"content": ("II\n" + "\n".join(map(str, signal))).encode()}
    elif case == "adc-counts":
        url = "/v1/models/ecg/predict"
        kwargs = {"json": {"rows": [{"signal": (signal * 200).round(1).tolist(), "sampling_rate": 250}]}}
    else:
        values = signal.round(4).tolist()
        if case == "nan-run":
            values[1000:1500] = [None] * 500
        else:
            values = values[:300]
        url = "/v1/models/ecg/predict"
        kwargs = {"json": {"rows": [{"signal": values, "sampling_rate": 250}]}}
    before = len(_predict_events(client, keys))
    response = client.post(url, headers=_auth(keys["clinician"]), **kwargs)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert len(_predict_events(client, keys)) == before


def test_python_client_uploads_a_record(ecg_api: Any, tmp_path: Path) -> None:
    from medmaas.client import Client
    from medmaas.exceptions import InvalidInputError

    test_client, keys = ecg_api
    client = Client(api_key=keys["clinician"], transport=test_client._transport, base_url="http://testserver")
    _record(tmp_path)
    answer = client.predict_file("ecg", tmp_path / "rec.hea", tmp_path / "rec.dat", explain=True)
    assert answer["predictions"][0]["summary"]["counts"]["V"] >= 15
    assert answer["predictions"][0]["explanation"]["png_base64"]
    signal, _, _ = synthetic_ecg(seconds=20, fs=250, seed=2)
    (tmp_path / "ecg.csv").write_text("II\n" + "\n".join(f"{v:.4f}" for v in signal))
    assert client.predict_file("ecg", tmp_path / "ecg.csv", sampling_rate=250)["predictions"][0]["beats"]
    with pytest.raises(InvalidInputError, match="unknown sampling rate"):
        client.predict_file("ecg", tmp_path / "ecg.csv")
