"""Notes, ECG recordings and ICU stays over the V2 protocol: each kind's tensors give the answers
its /v1 JSON rows give, through the same checks and the same audit."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import serve
from tests.signal_builders import beat_dataset, synthetic_ecg
from tests.text_builders import note_dataset
from tests.timeseries_builders import stay_rows

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kinds_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A text model (TF-IDF), an ECG beat model (gradient boosting) and an ICU stay model
    (gradient boosting), each trained in seconds."""
    from medmaas.registry import Registry
    from medmaas.settings import Settings
    from medmaas.training.train import TrainOptions, train_model

    home = tmp_path_factory.mktemp("v2-kinds-home")
    registry = Registry.open(Settings(home=home))
    from tests.timeseries_builders import timeseries_dataset

    train_model(note_dataset(n=120), name="notes", registry=registry, actor="test",
                options=TrainOptions(kind="text", candidates=["tfidf"], n_boot=100, kind_options={"max_tokens": 64}))
    train_model(beat_dataset(n_records=6, seconds=60), name="ecg", registry=registry, actor="test",
                options=TrainOptions(kind="signal", candidates=["gradient-boosting"], n_boot=100))
    train_model(timeseries_dataset(n=120, seed=1), name="icu", registry=registry, actor="test",
                options=TrainOptions(kind="timeseries", candidates=["gradient-boosting"], n_boot=100,
                                     kind_options={"trees": 30}))
    registry.close()
    return home


@pytest.fixture()
def kinds_api(kinds_home: Path, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    shutil.copytree(kinds_home, tmp_path / "home")
    yield from serve(tmp_path / "home")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _outputs(response: Any) -> dict[str, list[Any]]:
    assert response.status_code == 200, response.text
    return {o["name"]: o["data"] for o in response.json()["outputs"]}


def _error(response: Any, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    for word in words:
        assert word in response.json()["error"], (word, response.json())


NOTES = ["Seen by Dr. Anna Kowalski on 03/04/2021 at Mercy Hospital: severe nausea and vomiting.",
         "No side effects at all, works well."]


def test_notes_as_bytes_are_deidentified_and_answered_like_v1(kinds_api: Any) -> None:
    client, keys = kinds_api
    v1 = client.post("/v1/models/notes/predict", headers=_auth(keys["clinician"]),
                     json={"rows": [{"text": t} for t in NOTES]}).json()["predictions"]
    response = client.post("/v2/models/notes/infer", headers=_auth(keys["clinician"]), json={"inputs": [
        {"name": "text", "shape": [2], "datatype": "BYTES", "data": NOTES}]})
    outputs = _outputs(response)
    assert outputs["label"] == [p["prediction"] for p in v1]
    np.testing.assert_allclose(np.reshape(outputs["probabilities"], (2, -1)),
                               [list(p["probabilities"].values()) for p in v1], atol=2e-6)
    # The identifiers were replaced before the model read the note, as /v1 says.
    warnings = json.loads(response.json()["parameters"]["warnings"])
    assert warnings == [p["warnings"] for p in v1] and "identifier" in warnings[0][0]


def test_notes_without_deidentification_need_their_permission_and_are_marked(kinds_api: Any) -> None:
    client, keys = kinds_api
    body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": NOTES[:1]}],
            "parameters": {"deidentify": False}}
    _error(client.post("/v2/models/notes/infer", headers=_auth(keys["clinician"]), json=body), 403,
           "text:identified")
    answered = client.post("/v2/models/notes/infer", headers=_auth(keys["admin"]), json=body)
    assert answered.status_code == 200
    (event,) = client.get("/v1/audit?n=5&action=model.predict", headers=_auth(keys["auditor"])).json()
    assert event["detail"] == {"rows": 1, "deidentified": False, "request_id": answered.headers["x-request-id"]}
    _error(client.post("/v2/models/notes/infer", headers=_auth(keys["clinician"]), json={"inputs": [
        {"name": "text", "shape": [1], "datatype": "FP32", "data": [1.0]}]}), 400, "'text'", "BYTES")


def test_an_ecg_lead_as_samples_gives_a_label_per_beat_like_v1(kinds_api: Any) -> None:
    client, keys = kinds_api
    signal, _, symbols = synthetic_ecg(seconds=20, seed=3)
    v1 = client.post("/v1/models/ecg/predict", headers=_auth(keys["clinician"]), json={
        "rows": [{"signal": signal.tolist(), "sampling_rate": 360}]}).json()["predictions"][0]
    samples = signal.astype(np.float32)
    response = client.post("/v2/models/ecg/infer", headers=_auth(keys["clinician"]), json={
        "inputs": [{"name": "signal", "shape": [len(samples)], "datatype": "FP32", "data": samples.tolist()}],
        "parameters": {"sampling_rate": 360, "lead": "MLII"}})
    outputs = _outputs(response)
    assert outputs["label"] == [b["label"] for b in v1["beats"]]
    assert outputs["sample"] == [b["sample"] for b in v1["beats"]]
    assert len(outputs["probabilities"]) == 2 * len(v1["beats"])
    assert "V" in outputs["label"] and len(outputs["label"]) == pytest.approx(len(symbols), abs=2)
    _error(client.post("/v2/models/ecg/infer", headers=_auth(keys["clinician"]), json={
        "inputs": [{"name": "signal", "shape": [len(samples)], "datatype": "FP32", "data": samples.tolist()}]}),
        400, "'sampling_rate'")
    _error(client.post("/v2/models/ecg/infer", headers=_auth(keys["clinician"]), json={
        "inputs": [{"name": "signal", "shape": [2, 5], "datatype": "FP32", "data": [0.0] * 10}],
        "parameters": {"sampling_rate": 360}}), 400, "'signal'", "[-1]")


def _stay_inputs(stays: list[list[tuple[float, str, float]]], ids: list[int] | None) -> list[dict[str, Any]]:
    rows = [row for stay in stays for row in stay]
    inputs = [{"name": "time", "shape": [len(rows)], "datatype": "FP32", "data": [r[0] for r in rows]},
              {"name": "parameter", "shape": [len(rows)], "datatype": "BYTES", "data": [r[1] for r in rows]},
              {"name": "value", "shape": [len(rows)], "datatype": "FP64", "data": [r[2] for r in rows]}]
    if ids is not None:
        inputs.append({"name": "stay", "shape": [len(rows)], "datatype": "INT64",
                       "data": [i for i, stay in zip(ids, stays, strict=True) for _ in stay]})
    return inputs


def test_icu_stays_as_measurement_rows_are_answered_like_v1(kinds_api: Any) -> None:
    client, keys = kinds_api
    rng = np.random.default_rng(5)
    stays = [stay_rows(rng, died=True) + [(0.0, "Age", 81.0)], stay_rows(rng, died=False)]
    v1 = client.post("/v1/models/icu/predict", headers=_auth(keys["clinician"]), json={"rows": [
        {"measurements": [{"time": t, "parameter": p, "value": v} for t, p, v in stay]} for stay in stays]}
    ).json()["predictions"]
    outputs = _outputs(client.post("/v2/models/icu/infer", headers=_auth(keys["clinician"]),
                                   json={"inputs": _stay_inputs(stays, [42, 7])}))
    assert outputs["stay"] == [42, 7]
    assert outputs["label"] == [p["prediction"] for p in v1]
    np.testing.assert_allclose(np.reshape(outputs["probabilities"], (2, -1)),
                               [list(p["probabilities"].values()) for p in v1], atol=1e-5)
    one = _outputs(client.post("/v2/models/icu/infer", headers=_auth(keys["clinician"]),
                               json={"inputs": _stay_inputs(stays[1:], None)}))
    assert one["stay"] == [0] and one["label"] == outputs["label"][1:]
    short = _stay_inputs(stays[:1], None)
    short[2] = {**short[2], "shape": [3], "data": short[2]["data"][:3]}
    _error(client.post("/v2/models/icu/infer", headers=_auth(keys["clinician"]), json={"inputs": short}),
           400, "one element per measurement")
    _error(client.post("/v2/models/icu/infer", headers=_auth(keys["clinician"]), json={"inputs": short[:2]}),
           400, "missing input(s) 'value'")
