"""Stored datasets over HTTP and the CLI: encrypted on disk, one project's own, audited, deleted by
destroying their data key, and still readable after a key rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

CANARY = "Zqxname Canarywick"
TABLE = f"name,age,glucose\n{CANARY},71,5.4\nAda Example,64,7.1\n".encode()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _blobs(home: Path) -> set[Path]:
    return {p for p in (home / "artifacts" / "blobs").rglob("*") if p.is_file()}


def test_a_dataset_is_stored_encrypted_read_back_audited_and_erased(api: Any, home: Path) -> None:
    client, keys = api
    dev = _auth(keys["developer"])
    blobs_before = _blobs(home)
    stored = client.post("/v1/datasets/cohort", content=TABLE, headers={**dev, "Content-Type": "text/csv"})
    assert stored.status_code == 201, stored.text
    info = stored.json()
    assert (info["rows"], info["columns"], info["encrypted"], info["project"]) == (2, 3, True, "default")
    assert client.post("/v1/datasets/cohort", content=TABLE, headers=dev).status_code == 409
    assert [d["name"] for d in client.get("/v1/datasets", headers=dev).json()] == ["cohort"]
    assert client.get("/v1/datasets/cohort/content", headers=dev).content == TABLE
    # nothing of the table is on disk in plaintext, the database included
    assert _files_holding(home, CANARY.encode()) == []
    # who may: clinicians and auditors do not read datasets; another project does not see them
    assert client.get("/v1/datasets", headers=_auth(keys["clinician"])).status_code == 403
    state = client.app.fastapi.state.medmaas
    other = state.keys.create("other", "developer", created_by="test", project="elsewhere")[0]
    assert client.get("/v1/datasets/cohort", headers=_auth(other)).status_code == 404
    assert client.get("/v1/datasets", headers=_auth(other)).json() == []
    # bad uploads are refused and store nothing
    empty = client.post("/v1/datasets/empty", content=b"", headers=dev)
    assert empty.status_code == 422 and "empty body" in empty.json()["error"]
    assert client.post("/v1/datasets/Bad Name", content=TABLE, headers=dev).status_code in (404, 422)
    actions = [e["action"] for e in client.get("/v1/audit?n=20", headers=_auth(keys["auditor"])).json()
               if e["action"].startswith("dataset.")]
    assert actions == ["dataset.create", "dataset.read"]
    assert len(_blobs(home) - blobs_before) == 1  # the ciphertext; the refused uploads left none
    assert client.delete("/v1/datasets/cohort", headers=dev).status_code == 204
    assert client.get("/v1/datasets/cohort/content", headers=dev).status_code == 404
    assert _blobs(home) == blobs_before  # its key went with the record, its ciphertext after it


def test_an_upload_that_loses_the_race_for_a_name_leaves_no_blob(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medmaas.exceptions import ConflictError
    from medmaas.registry import Registry
    from medmaas.registry.datasets import DatasetStore
    from medmaas.settings import Settings

    settings = Settings(home=home)
    registry = Registry.open(settings)
    try:
        store = DatasetStore(registry, settings.dataset_keyring())
        store.put("default", "cohort", TABLE, media_type="text/csv", created_by="first")
        blobs = _blobs(home)
        # The second upload checked the name before the first one committed it.
        monkeypatch.setattr(store, "_find", lambda _project, _name: None)
        with pytest.raises(ConflictError, match="already exists"):
            store.put("default", "cohort", TABLE, media_type="text/csv", created_by="second")
        assert _blobs(home) == blobs
        monkeypatch.undo()
        assert store.read("default", "cohort") == TABLE  # the winner's, untouched
    finally:
        registry.close()


def test_key_rotation_keeps_every_dataset_readable(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.test_cli import run

    table = tmp_path / "cohort.csv"
    table.write_bytes(TABLE)
    assert run(capsys, home, "datasets", "put", "cohort", str(table))[0] == 0
    assert run(capsys, home, "--project", "icu", "datasets", "put", "cohort", str(table))[0] == 0
    before = (home / "dataset.keys").read_text()
    code, out, _ = run(capsys, home, "datasets", "rotate-key")
    assert code == 0 and "rewrapped 2 dataset key(s)" in out
    after = (home / "dataset.keys").read_text()
    assert after != before and len(__import__("json").loads(after)["keys"]) == 1
    from medmaas.registry import Registry
    from medmaas.registry.datasets import DatasetStore
    from medmaas.settings import Settings

    settings = Settings(home=home)
    registry = Registry.open(settings)
    try:
        store = DatasetStore(registry, settings.dataset_keyring())
        assert store.read("default", "cohort") == TABLE and store.read("icu", "cohort") == TABLE
    finally:
        registry.close()
    code, _, err = run(capsys, home, "datasets", "put", "cohort", str(table))
    assert code == 1 and "already exists" in err
