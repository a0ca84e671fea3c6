"""Annotated dependencies: the app state and the authenticated, authorized principal."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

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
    """The audit event for a known principal refused ``permission`` at ``path``.

    The event records the route the path matched ("/v1/models/{name}/predict"), never the path:
    path parameters are whatever the caller typed, and callers do put identifiers there (a model
    "named" by an MRN, a record id). The template, the permission and the method say what was
    attempted, and the actor says who to ask. A hash of the path would not do instead: an MRN
    or a birth date has so few possible values that its sha256 is as good as the value.

    >>> from medmaas.security.keys import Principal
    >>> denial_event(Principal("k1", "ann", "clinician", "default"), "models:promote",
    ...              "/v1/models/MRN-0042/versions/1/promote", "POST").resource
    '/v1/models/{name}/versions/{version}/promote'
    """
    return AuditEvent(
        actor=principal.key_id, role=principal.role, action="auth.denied",
        project=principal.project, resource=_route_template(path), outcome="denied",
        detail={"permission": permission, "method": method},
    )


#: What a denial records for a path no route matches (none can be refused without one).
UNMATCHED_ROUTE = "(no route)"


def _route_template(path: str) -> str:
    """The template of the first route ``path`` matches, as Starlette routes it; a template
    comes back as itself."""
    for pattern, template in _route_patterns():
        if pattern.match(path):
            return template
    return UNMATCHED_ROUTE


@cache
def _route_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    # Imported on first use: the app imports the routes, which import this module. The data
    # plane's two routes are among them (FastAPI documents them), so its paths match too.
    from starlette.routing import Route

    from medmaas.api.app import ROUTERS

    return tuple((route.path_regex, route.path) for router in ROUTERS for route in router.routes
                 if isinstance(route, Route))


# Declared, not used to read the key: they put both schemes on every guarded operation of the
# OpenAPI document, so client generators (and schemathesis's ignored_auth check) know a key is
# needed. ``credentials`` reads the headers itself, to answer a malformed Authorization header
# with a 401 that says what is wrong instead of treating it as absent.
_BEARER = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="the API key, instead of Authorization")


def current_principal(request: Request, state: State, _bearer: Annotated[Any, Security(_BEARER)],
                      _api_key: Annotated[str | None, Security(_API_KEY)]) -> Principal:
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
