"""API keys, the audit trail and build jobs."""

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
    VerifyPublic,
)
from medmaas.audit import AuditEvent
from medmaas.security.keys import Principal

router = APIRouter(prefix="/v1", tags=["admin"])


@router.post("/keys", response_model=KeyCreated, status_code=201, summary="create an API key (shown once)")
def create_key(body: KeyCreate, state: State, principal: Principal = allowed("keys:manage")) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    plaintext, info = state.keys.create(body.name, body.role, created_by=principal.key_id,
                                        project=principal.project, expires_at=expires)
    state.audit.append(AuditEvent(actor=principal.key_id, role=principal.role, action="key.create",
                                  project=principal.project, resource=info.key_id, outcome="ok",
                                  detail={"role": body.role}))
    return {**KeyPublic.model_validate(info, from_attributes=True).model_dump(), "api_key": plaintext}


@router.get("/keys", response_model=list[KeyPublic])
def list_keys(state: State, principal: Principal = allowed("keys:manage")) -> list[Any]:
    return [KeyPublic.model_validate(k, from_attributes=True) for k in state.keys.list(project=principal.project)]


@router.delete("/keys/{key_id}", status_code=204, summary="revoke a key; it stops working at once")
def revoke_key(key_id: str, state: State, principal: Principal = allowed("keys:manage")) -> None:
    state.keys.revoke(key_id, actor=principal.key_id)
    state.audit.append(AuditEvent(actor=principal.key_id, role=principal.role, action="key.revoke",
                                  project=principal.project, resource=key_id, outcome="ok"))


@router.get("/audit", response_model=list[AuditEventPublic], summary="the latest audit events")
def audit_tail(state: State, n: int = Query(default=50, ge=1, le=1000), action: str | None = None,
               actor: str | None = None, principal: Principal = allowed("audit:read")) -> list[Any]:
    return [AuditEventPublic.model_validate(e, from_attributes=True)
            for e in state.audit.tail(n, action=action, actor=actor)]


@router.get("/audit/verify", response_model=VerifyPublic, summary="check the hash chain end to end")
def audit_verify(state: State, principal: Principal = allowed("audit:read")) -> Any:
    return VerifyPublic.model_validate(state.audit.verify(), from_attributes=True)


@router.get("/jobs", response_model=list[JobPublic], summary="model builds and their progress")
def jobs(state: State, principal: Principal = allowed("jobs:read")) -> list[Any]:
    return [JobPublic.model_validate(j, from_attributes=True) for j in state.registry.list_jobs()]
