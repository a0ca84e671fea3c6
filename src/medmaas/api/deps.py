"""Annotated dependencies: the app state and the authenticated, authorized principal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from medmaas.api.state import AppState
from medmaas.audit import AuditEvent
from medmaas.exceptions import AuthenticationError, PermissionDeniedError
from medmaas.security.keys import Principal
from medmaas.security.permissions import require


def get_state(request: Request) -> AppState:
    return request.app.state.medmaas  # type: ignore[no-any-return]


State = Annotated[AppState, Depends(get_state)]


def credentials(authorization: str | None, api_key: str | None) -> str:
    """The API key from ``Authorization: Bearer <key>`` (or ``X-API-Key``)."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Authorization header must be 'Bearer <API key>'")
        return token.strip()
    if api_key:
        return api_key.strip()
    raise AuthenticationError("missing credentials: send 'Authorization: Bearer <API key>'")


def _credentials(request: Request) -> str:
    return credentials(request.headers.get("authorization"), request.headers.get("x-api-key"))


def denial_event(principal: Principal, permission: str, path: str, method: str) -> AuditEvent:
    """The audit event for a known principal refused ``permission``."""
    return AuditEvent(
        actor=principal.key_id, role=principal.role, action="auth.denied",
        project=principal.project, resource=path[:300], outcome="denied",
        detail={"permission": permission, "method": method},
    )


def current_principal(request: Request, state: State) -> Principal:
    principal = state.keys.verify(_credentials(request))
    state.limiter.check(principal.key_id)  # 429 with Retry-After past the key's rate
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def allowed(action: str) -> Any:
    """A dependency that lets the request through only if the principal may ``action``.

    Refusals of known principals are audited: a clinician key trying to promote is an event a
    compliance officer wants to see. Unknown keys are not (they would let anyone fill the log).
    """

    def check(request: Request, principal: CurrentPrincipal, state: State) -> Principal:
        try:
            require(principal, action)
        except PermissionDeniedError:
            state.audit.append(denial_event(principal, action, request.url.path, request.method))
            raise
        return principal

    # Read by the access-control matrix test: every route names its permission or is public.
    check.permission = action  # type: ignore[attr-defined]
    return Depends(check)
