"""Clinical entities as a service and a command: flagged entities out, the audit trail holds a
hash and counts but never the note, roles without the permission and empty notes are refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import serve

from medmaas.exceptions import MissingDependencyError
from medmaas.text.entities._medspacy import import_medspacy

try:
    import_medspacy()
except MissingDependencyError as exc:  # medspacy is installed by the Makefile, --no-deps
    pytest.skip(str(exc), allow_module_level=True)

pytestmark = pytest.mark.integration

NOTE = ("No evidence of pneumonia. History of MI. Mother had breast cancer. Start metformin 500 mg. "
        "If fever, get blood cultures.")


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """(TestClient, {role: API key}) over an empty home: entities need no trained model."""
    yield from serve(tmp_path / "home")


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_post_entities_flags_each_entity_and_audits_without_the_note(service: Any) -> None:
    client, keys = service
    answer = client.post("/v1/entities", json={"text": NOTE}, headers=_auth(keys["clinician"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    flags = ("negated", "historical", "hypothetical", "family")
    assert [(e["text"], e["label"], [f for f in flags if e[f]]) for e in body["entities"]] == [
        ("pneumonia", "problem", ["negated"]), ("MI", "problem", ["historical"]),
        ("breast cancer", "problem", ["family"]), ("metformin", "medication", []),
        ("fever", "problem", ["hypothetical"]), ("blood cultures", "test", ["hypothetical"])]
    first = body["entities"][0]
    assert NOTE[first["start"]:first["end"]] == "pneumonia" and first["section"] is None
    assert body["counts"] == {"problem": 4, "medication": 1, "test": 1}

    events = client.get("/v1/audit?n=20&action=text.entities", headers=_auth(keys["auditor"])).json()
    assert len(events) == 1 and events[0]["detail"]["entities"] == body["counts"]
    stored = json.dumps(events)
    assert "pneumonia" not in stored and "metformin" not in stored and "breast" not in stored


def test_post_entities_refuses_auditors_missing_keys_and_bad_bodies(service: Any) -> None:
    client, keys = service
    assert client.post("/v1/entities", json={"text": NOTE}).status_code == 401
    assert client.post("/v1/entities", json={"text": NOTE}, headers=_auth(keys["auditor"])).status_code == 403
    clinician = _auth(keys["clinician"])
    for bad in ({"text": ""}, {"text": " \n\t "}, {"txt": NOTE}, {"text": 17}, {}):
        answer = client.post("/v1/entities", json=bad, headers=clinician)
        assert answer.status_code == 422, (bad, answer.text)
    too_long = {"text": "x" * 200_001}
    assert client.post("/v1/entities", json=too_long, headers=clinician).status_code in (413, 422)
    assert client.post("/v1/entities", json={"text": "Fever."},
                       headers=_auth(keys["developer"])).status_code == 200


def test_cli_entities_prints_a_table_or_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from medmaas.cli.main import app

    note = tmp_path / "note.txt"
    note.write_text("Past Medical History: CHF\nNo fever.\n")
    table = CliRunner().invoke(app, ["entities", str(note)])
    assert table.exit_code == 0, table.output
    assert table.output.splitlines() == [
        "start\tend\tlabel\ttext\tconcept\tflags\tsection",
        "22\t25\tproblem\tCHF\tcongestive heart failure\thistorical\tpast_medical_history",
        "29\t34\tproblem\tfever\tfever\tnegated,historical\tpast_medical_history"]

    piped = CliRunner().invoke(app, ["entities", "-", "--json"], input=NOTE)
    assert piped.exit_code == 0, piped.output
    body = json.loads(piped.output)
    assert [e["text"] for e in body["entities"]][:2] == ["pneumonia", "MI"] and body["counts"]["test"] == 1

    missing = CliRunner().invoke(app, ["entities", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 1 and "no such file" in str(missing.exception)
    (tmp_path / "empty.txt").write_text("  \n")
    empty = CliRunner().invoke(app, ["entities", str(tmp_path / "empty.txt")])
    assert empty.exit_code == 1 and "no text" in str(empty.exception)
