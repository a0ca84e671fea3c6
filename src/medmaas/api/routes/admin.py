"""Projects, API keys, the audit trail and build jobs.

A key acts in its own project: keys, audit events and jobs of another project answer as if they
did not exist (404), so a tenant learns no other tenant's names. Only ``projects:manage``
(sysadmin) reaches across projects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query

from medmaas.api.deps import State, allowed
from medmaas.api.schemas import (
    AuditEventPublic,
    JobPublic,
    KeyCreate,
    KeyCreated,
    KeyPublic,
    MePublic,
    ProjectCreate,
    ProjectPublic,
    VerifyPublic,
    error_responses,
)
from medmaas.audit import AuditEvent
from medmaas.exceptions import NotFoundError, PermissionDeniedError
from medmaas.security.keys import Principal
from medmaas.security.permissions import PERMISSIONS
from medmaas.security.permissions import allowed as role_allows

# Every error these routes may answer, in the REST error shape (400: an unreadable JSON body;
# 409: a project or key change that conflicts).
router = APIRouter(prefix="/v1", tags=["admin"], responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429))

_PROJECT_QUERY = Query(default=None, description="another project (sysadmin only); the caller's own if unset")


def project_scope(state: Any, principal: Principal, requested: str | None, *, every_when_unset: bool = False) -> str | None:
    """The project a request acts on: the caller's own, or (``projects:manage`` only) the one
    asked for; None means every project. Another project asked for without the permission is
    answered as unknown: a 404 that does not tell whether it exists."""
    if requested is None or requested == principal.project:
        if requested is None and every_when_unset and role_allows(principal.role, "projects:manage"):
            return None
        return principal.project
    if not role_allows(principal.role, "projects:manage") or not state.registry.has_project(requested):
        raise NotFoundError(f"project '{requested}' not found")
    return requested


@router.get("/me", response_model=MePublic, summary="the calling key: its role, project and permissions")
def me(principal: Principal = allowed("models:read")) -> dict[str, Any]:
    # models:read, which every role has: any valid key may ask who it is.
    return {"key_id": principal.key_id, "name": principal.name, "role": principal.role,
            "project": principal.project, "permissions": sorted(PERMISSIONS[principal.role])}


@router.post("/projects", response_model=ProjectPublic, status_code=201, summary="create a project (tenant)")
def create_project(body: ProjectCreate, state: State, principal: Principal = allowed("projects:manage")) -> dict[str, Any]:
    created = state.registry.create_project(body.name)
    if created:
        state.audit.append(AuditEvent(actor=principal.key_id, role=principal.role, action="project.create",
                                      project=body.name, resource=body.name, outcome="ok"))
    return {"name": body.name, "created": created}


@router.get("/projects", response_model=list[ProjectPublic], summary="every project of the installation")
def list_projects(state: State, principal: Principal = allowed("projects:manage")) -> list[dict[str, Any]]:
    return [{"name": name} for name in state.registry.list_projects()]


@router.post("/keys", response_model=KeyCreated, status_code=201, summary="create an API key (shown once)")
def create_key(body: KeyCreate, state: State, principal: Principal = allowed("keys:manage")) -> dict[str, Any]:
    project = project_scope(state, principal, body.project) or principal.project
    if body.role == "sysadmin" and not role_allows(principal.role, "projects:manage"):
        # An admin of one project must not mint a key that reaches every project.
        raise PermissionDeniedError(f"role '{principal.role}' may not create sysadmin keys")
    expires = datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    plaintext, info = state.keys.create(
        body.name, body.role, created_by=principal.key_id, project=project, expires_at=expires,
        record=state.audit.recorder(lambda created: AuditEvent(
            actor=principal.key_id, role=principal.role, action="key.create", project=project,
            resource=created.key_id, outcome="ok", detail={"role": body.role})))
    return {**KeyPublic.model_validate(info, from_attributes=True).model_dump(), "api_key": plaintext}


@router.get("/keys", response_model=list[KeyPublic], summary="the project's keys (sysadmin: every project's)")
def list_keys(state: State, project: str | None = _PROJECT_QUERY,
              principal: Principal = allowed("keys:manage")) -> list[Any]:
    scope = project_scope(state, principal, project, every_when_unset=True)
    return [KeyPublic.model_validate(k, from_attributes=True) for k in state.keys.list(project=scope)]


@router.delete("/keys/{key_id}", status_code=204, summary="revoke a key; it stops working at once")
def revoke_key(key_id: str, state: State, principal: Principal = allowed("keys:manage")) -> None:
    target = state.keys.get(key_id)
    if target.project != principal.project and not role_allows(principal.role, "projects:manage"):
        raise NotFoundError(f"API key '{key_id}' not found")  # another tenant's: as if unknown
    state.keys.revoke(key_id, actor=principal.key_id, record=state.audit.recorder(lambda _: AuditEvent(
        actor=principal.key_id, role=principal.role, action="key.revoke", project=target.project,
        resource=key_id, outcome="ok")))


@router.get("/audit", response_model=list[AuditEventPublic],
            summary="the latest audit events of the project (sysadmin: of every project)")
def audit_tail(state: State, n: int = Query(default=50, ge=1, le=1000), action: str | None = None,
               actor: str | None = None, project: str | None = _PROJECT_QUERY,
               before: int | None = Query(default=None, ge=1, le=2**63 - 1,
                                          description="only events older than this seq: the oldest "
                                          "seq of the previous page, to page back"),
               principal: Principal = allowed("audit:read")) -> list[Any]:
    scope = project_scope(state, principal, project, every_when_unset=True)
    return [AuditEventPublic.model_validate(e, from_attributes=True)
            for e in state.audit.tail(n, action=action, actor=actor, project=scope, before=before)]


@router.get("/audit/verify", response_model=VerifyPublic, summary="check the hash chain end to end")
def audit_verify(state: State, principal: Principal = allowed("audit:read")) -> Any:
    # The chain is one for the installation: every project's auditor checks all of it (an edit
    # anywhere breaks every later link), and learns only whether it holds and its length.
    return VerifyPublic.model_validate(state.audit.verify(), from_attributes=True)


@router.get("/jobs", response_model=list[JobPublic], summary="the project's model builds and their progress")
def jobs(state: State, principal: Principal = allowed("jobs:read")) -> list[Any]:
    return [JobPublic.model_validate(j, from_attributes=True)
            for j in state.registry.list_jobs(project=principal.project)]
