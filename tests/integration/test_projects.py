"""Projects (tenants): each project's models, keys, jobs and audit events are its own; the
installation admin (sysadmin) creates projects and reaches across them, nobody else does."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.test_serving import _rows

pytestmark = pytest.mark.integration


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _copy_model(state: Any, project: str) -> None:
    """wdbc's production bundle registered under the same name in ``project``."""
    info = state.registry.resolve("wdbc", "production")
    copy = state.registry.register_version(
        "wdbc", state.registry.bundle_path(info), kind=info.kind, task=info.task, created_by="test",
        metrics=info.metrics, spec=info.spec, card=info.card, project=project)
    state.registry.promote("wdbc", copy.version, "production", actor="test", project=project)


def test_projects_are_created_by_the_installation_admin_only(api: Any) -> None:
    client, keys = api
    created = client.post("/v1/projects", json={"name": "cardiology"}, headers=_auth(keys["sysadmin"]))
    assert created.status_code == 201 and created.json() == {"name": "cardiology", "created": True}
    again = client.post("/v1/projects", json={"name": "cardiology"}, headers=_auth(keys["sysadmin"]))
    assert again.json()["created"] is False
    assert client.post("/v1/projects", json={"name": "x"}, headers=_auth(keys["admin"])).status_code == 403
    bad = client.post("/v1/projects", json={"name": "Bad Name"}, headers=_auth(keys["sysadmin"]))
    assert bad.status_code == 422 and "name" in bad.json()["error"]
    listed = client.get("/v1/projects", headers=_auth(keys["sysadmin"])).json()
    assert {"cardiology", "default"} <= {p["name"] for p in listed}
    # a key for the new project, issued by the sysadmin, works there and only there
    key = client.post("/v1/keys", json={"name": "cardio app", "role": "admin", "project": "cardiology"},
                      headers=_auth(keys["sysadmin"])).json()
    assert key["project"] == "cardiology"
    assert client.get("/v1/models", headers=_auth(key["api_key"])).json()["models"] == []
    # a project admin cannot issue keys elsewhere, nor keys that reach everywhere
    elsewhere = client.post("/v1/keys", json={"name": "k", "role": "clinician", "project": "cardiology"},
                            headers=_auth(keys["admin"]))
    assert elsewhere.status_code == 404 and "project 'cardiology' not found" in elsewhere.json()["error"]
    upward = client.post("/v1/keys", json={"name": "k", "role": "sysadmin"}, headers=_auth(key["api_key"]))
    assert upward.status_code == 403
    unknown = client.post("/v1/keys", json={"name": "k", "role": "clinician", "project": "nowhere"},
                          headers=_auth(keys["sysadmin"]))
    assert unknown.status_code == 404
    events = client.get("/v1/audit?action=project.create", headers=_auth(keys["sysadmin"])).json()
    assert [(e["project"], e["role"]) for e in events] == [("cardiology", "sysadmin")]


def test_the_same_model_name_in_two_projects_is_two_models(api: Any) -> None:
    client, keys = api
    state = client.app.fastapi.state.medmaas
    _copy_model(state, "ward-b")
    b_clinician = state.keys.create("b", "clinician", created_by="test", project="ward-b")[0]
    b_auditor = state.keys.create("b-audit", "auditor", created_by="test", project="ward-b")[0]
    state.registry.create_job("build something", model_name="wdbc", project="ward-b")
    for key, project in ((keys["clinician"], "default"), (b_clinician, "ward-b")):
        versions = client.get("/v1/models/wdbc/versions", headers=_auth(key)).json()["versions"]
        assert len(versions) == (1 if project == "ward-b" else len(versions))
        answer = client.post("/v1/models/wdbc/predict", json={"rows": _rows(1)}, headers=_auth(key))
        assert answer.status_code == 200
    # each project's auditor sees its own project's events and jobs only
    b_events = client.get("/v1/audit?n=100", headers=_auth(b_auditor)).json()
    assert b_events and {e["project"] for e in b_events} == {"ward-b"}
    a_events = client.get("/v1/audit?n=1000", headers=_auth(keys["auditor"])).json()
    assert "ward-b" not in {e["project"] for e in a_events}
    assert [j["project"] for j in client.get("/v1/jobs", headers=_auth(b_auditor)).json()] == ["ward-b"]
    assert all(j["project"] == "default" for j in client.get("/v1/jobs", headers=_auth(keys["auditor"])).json())
    # asking for another project by name is answered as if it did not exist
    peek = client.get("/v1/audit?project=ward-b", headers=_auth(keys["auditor"]))
    assert peek.status_code == 404 and "project 'ward-b' not found" in peek.json()["error"]
    everyone = client.get("/v1/audit?n=1000", headers=_auth(keys["sysadmin"])).json()
    assert {"default", "ward-b"} <= {e["project"] for e in everyone}
    # the chain is one: every auditor can check all of it
    assert client.get("/v1/audit/verify", headers=_auth(b_auditor)).json()["ok"] is True
    # keys: a project admin lists and revokes its own only
    b_admin = state.keys.create("b-admin", "admin", created_by="test", project="ward-b")[0]
    listed = client.get("/v1/keys", headers=_auth(b_admin)).json()
    assert {k["project"] for k in listed} == {"ward-b"}
    a_key = state.keys.list(project="default")[0].key_id
    assert client.delete(f"/v1/keys/{a_key}", headers=_auth(b_admin)).status_code == 404
    assert state.keys.get(a_key).revoked_at is None
