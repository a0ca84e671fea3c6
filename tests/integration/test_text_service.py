"""A text model as a service and a command: notes are de-identified before the model reads them
and the audit trail never holds them; sending notes as they are needs its own permission;
word attributions come back for explain; bad notes get a 4xx that says what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import serve
from tests.text_builders import note_dataset

pytest.importorskip("presidio_analyzer")
pytestmark = pytest.mark.integration

NOTE = "Seen by Dr. Healey on 7/22/2019; severe vomiting and a rash all over, went to the emergency room."


@pytest.fixture(scope="module")
def text_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmaas.registry import Registry
    from medmaas.settings import Settings
    from medmaas.training.train import TrainOptions, train_model

    home = tmp_path_factory.mktemp("text-home")
    registry = Registry.open(Settings(home=home))
    result = train_model(note_dataset(n=120), name="side-effects", registry=registry, actor="test",
                         options=TrainOptions(kind="text", candidates=["tfidf"], n_boot=200,
                                              kind_options={"max_tokens": 64}))
    registry.promote("side-effects", int(result.version or 0), "production", actor="test")
    registry.close()
    return home


@pytest.fixture()
def text_api(text_home: Path, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    import shutil

    shutil.copytree(text_home, tmp_path / "home")
    yield from serve(tmp_path / "home")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_predict_deidentifies_the_note_and_audits_only_a_hash(text_api: Any) -> None:
    client, keys = text_api
    answer = client.post("/v1/models/side-effects/predict", json={"rows": [{"text": NOTE}], "explain": True},
                         headers=_auth(keys["clinician"]))
    assert answer.status_code == 200, answer.text
    prediction = answer.json()["predictions"][0]
    assert prediction["prediction"] == "severe"
    assert any("identifier(s) replaced" in w for w in prediction["warnings"])
    explanation = prediction["explanation"]
    assert "Healey" not in explanation["note"] and "<NAME>" in explanation["note"]
    words = {w["word"] for w in explanation["top_words"]}
    assert words & {"severe", "vomiting", "rash", "emergency"}
    events = client.get("/v1/audit?n=50", headers=_auth(keys["auditor"])).json()
    assert any(e["action"] == "model.explain" and e["input_sha256"] for e in events)
    assert "Healey" not in json.dumps(events) and "vomiting" not in json.dumps(events)


def test_sending_notes_as_they_are_needs_its_own_permission(text_api: Any) -> None:
    client, keys = text_api
    body = {"rows": [{"text": NOTE}], "deidentify": False}
    refused = client.post("/v1/models/side-effects/predict", json=body, headers=_auth(keys["clinician"]))
    assert refused.status_code == 403 and "text:identified" in refused.text
    allowed = client.post("/v1/models/side-effects/predict", json=body, headers=_auth(keys["admin"]))
    assert allowed.status_code == 200, allowed.text
    assert not any("identifier" in w for w in allowed.json()["predictions"][0]["warnings"])
    explain = client.post("/v1/models/side-effects/explain", json={**body, "top_k": 3},
                          headers=_auth(keys["developer"]))
    assert explain.status_code == 403 and "text:identified" in explain.text
    events = client.get("/v1/audit?n=50&action=model.predict", headers=_auth(keys["auditor"])).json()
    assert [e["detail"] for e in events if e["outcome"] == "ok"] == [
        {"rows": 1, "deidentified": False, "request_id": allowed.headers["x-request-id"]}]
    wrong = client.post("/v1/models/side-effects/predict", json={"rows": [{"text": NOTE}], "deidentify": "no"},
                        headers=_auth(keys["admin"]))
    assert wrong.status_code == 422 and "'deidentify' must be true or false" in wrong.text


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"rows": [{"text": ""}]}, 422, "row 0: field 'text' is empty"),
    ('{"rows": [{"text": "bad \\ud800 note"}]}', 422, "lone surrogate"),
    ({"rows": [{"text": "x" * 200_001}]}, 422, "the limit is 200000"),
    ({"rows": [{"text": "severe"}] * 21, "explain": True}, 422, "explain takes at most 20 notes"),
    ({"rows": [{"text": 5}]}, 422, "must be a string"),
    ({"rows": []}, 422, "non-empty list"),
])
def test_bad_notes_get_a_clear_4xx(text_api: Any, body: dict | str, status: int, message: str) -> None:
    client, keys = text_api
    sent = {"content": body} if isinstance(body, str) else {"json": body}
    answer = client.post("/v1/models/side-effects/predict", **sent,
                         headers={**_auth(keys["clinician"]), "Content-Type": "application/json"})
    assert answer.status_code == status and message in answer.text


def test_five_megabytes_of_text_is_413_and_nothing_is_audited(text_api: Any) -> None:
    client, keys = text_api
    before = len(client.get("/v1/audit?n=500", headers=_auth(keys["auditor"])).json())
    big = {"rows": [{"text": "severe vomiting " * 330_000}]}
    answer = client.post("/v1/models/side-effects/predict", json=big, headers=_auth(keys["clinician"]))
    assert answer.status_code == 413, answer.text
    after = client.get("/v1/audit?n=500", headers=_auth(keys["auditor"])).json()
    assert not [e for e in after[: len(after) - before] if e["action"].startswith("model.")]


def test_plain_text_upload_and_invalid_utf8(text_api: Any) -> None:
    client, keys = text_api
    note = b"Mr. John Smith called 617-555-0199: no side effects at all, felt completely normal."
    ok = client.post("/v1/models/side-effects/predict/file?filename=note.txt", content=note,
                     headers={**_auth(keys["clinician"]), "Content-Type": "text/plain"})
    assert ok.status_code == 200, ok.text
    answer = ok.json()["predictions"][0]
    assert answer["prediction"] == "none"
    assert any("identifier(s) replaced" in w for w in answer["warnings"])  # uploads are de-identified too
    bad = client.post("/v1/models/side-effects/predict/file", content=b"severe \xff vomiting",
                      headers={**_auth(keys["clinician"]), "Content-Type": "text/plain"})
    assert bad.status_code == 422 and "not UTF-8 text" in bad.text


def test_cli_trains_and_predicts_a_text_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from medmaas.cli.main import app

    ds = note_dataset(n=100)
    table = tmp_path / "notes.csv"
    import csv

    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "grade"])
        writer.writerows([t, ds.classes[y]] for t, y in zip(ds.texts, ds.y, strict=True))
    env = {"MEDMAAS_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    trained = runner.invoke(app, ["train", str(table), "--name", "notes", "--kind", "text", "--target", "grade",
                                  "--text-column", "review", "--candidates", "tfidf", "--max-tokens", "64",
                                  "--json"], env=env)
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["estimator"] == "tfidf"
    notes = tmp_path / "incoming"
    notes.mkdir()
    (notes / "a.txt").write_text("Terrible migraine for days, had to stop taking it.")
    (notes / "b.txt").write_bytes(b"\xff\xfe\xfa not text")
    predicted = runner.invoke(app, ["predict", "notes", "-i", str(notes), "--json"], env=env)
    assert predicted.exit_code == 0, predicted.output
    out = json.loads(predicted.stdout)
    assert out["predictions"][0]["prediction"] == "severe" and out["predictions"][0]["input"] == {"file": "a.txt"}
    assert out["failed"][0]["file"] == "b.txt" and "UTF-8" in out["failed"][0]["error"]
    missing = runner.invoke(app, ["train", str(table), "--name", "x", "--kind", "text", "--target", "grade"], env=env)
    assert missing.exit_code == 1 and "no column(s) ['text']" in str(missing.exception)


def test_python_client_sends_notes_as_they_are_only_when_permitted(text_api: Any) -> None:
    from medmaas import Client
    from medmaas.exceptions import PermissionDeniedError

    client, keys = text_api

    def as_role(role: str) -> Client:
        return Client(api_key=keys[role], transport=client._transport, base_url="http://testserver")

    raw = as_role("admin").predict("side-effects", [{"text": NOTE}], deidentify=False)
    assert not any("identifier" in w for w in raw["predictions"][0]["warnings"])
    with pytest.raises(PermissionDeniedError):
        as_role("clinician").explain("side-effects", [{"text": NOTE}], deidentify=False)
    tagged = as_role("clinician").explain("side-effects", [{"text": NOTE}], top_k=3)
    assert "<NAME>" in tagged["predictions"][0]["explanation"]["note"]
