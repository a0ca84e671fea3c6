"""The access-control matrix, generated: every operation of the OpenAPI document, called with
every role's key and with no key, a malformed, a revoked and an expired key, is allowed exactly
when the permission table says so. A route that names no permission and is not listed as public
fails here, so a new endpoint cannot ship unguarded."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from medmaas.security.permissions import PERMISSIONS, ROLES

pytestmark = pytest.mark.integration

#: the only operations without credentials: liveness, readiness, the protocols' discovery
PUBLIC = {
    ("GET", "/livez"), ("GET", "/readyz"),
    ("GET", "/v2"), ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"),
    ("GET", "/fhir/r4/metadata"),
}
#: values for path parameters: names that exist in the test home where it matters
PATH_VALUES = {"name": "wdbc", "ref": "1", "version": "1", "alias": "champion", "key_id": "no-such-key",
               "plot": "roc.png"}


def _permission(route: Any) -> str | None:
    """The permission a route's dependencies check (``deps.allowed``), if any."""
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        action = getattr(dependency.call, "permission", None)
        if action is not None:
            return action
        stack.extend(dependency.dependencies)
    return None


def _operations(fastapi: Any) -> list[tuple[str, str, str | None]]:
    """(method, path template, permission) of every operation in the OpenAPI document."""
    from fastapi.routing import APIRoute

    from medmaas.api.app import ROUTERS

    routes = {(method, route.path): route for router in ROUTERS for route in router.routes
              if isinstance(route, APIRoute) for method in route.methods}
    operations = []
    for path, item in fastapi.openapi()["paths"].items():
        for method in item:
            route = routes[(method.upper(), path)]
            operations.append((method.upper(), path, _permission(route)))
    return operations


def _url(template: str) -> str:
    url = template
    for key, value in PATH_VALUES.items():
        url = url.replace("{" + key + "}", value)
    assert "{" not in url, f"no test value for a path parameter of {template}"
    return url


def test_every_operation_names_a_permission_or_is_public(api: Any) -> None:
    client, _ = api
    unguarded = [(m, p) for m, p, action in _operations(client.app.fastapi)
                 if action is None and (m, p) not in PUBLIC]
    assert not unguarded, f"routes with neither a permission nor a place in PUBLIC: {unguarded}"
    guarded_public = [(m, p) for m, p, action in _operations(client.app.fastapi) if action and (m, p) in PUBLIC]
    assert not guarded_public


def test_every_role_is_allowed_exactly_what_the_permission_table_says(api: Any) -> None:
    from medmaas.registry.tables import utcnow

    client, keys = api
    state = client.app.fastapi.state.medmaas
    revoked, info = state.keys.create("revoked", "admin", created_by="test")
    state.keys.revoke(info.key_id, actor="test")
    expired = state.keys.create("expired", "admin", created_by="test", expires_at=utcnow() + timedelta(seconds=1))[0]
    time.sleep(1.1)
    callers: dict[str, dict[str, str]] = {role: {"Authorization": f"Bearer {keys[role]}"} for role in ROLES}
    callers |= {"no key": {}, "malformed": {"Authorization": "Basic dXNlcjpwYXNz"},
                "revoked": {"Authorization": f"Bearer {revoked}"}, "expired": {"X-API-Key": expired},
                "unknown": {"Authorization": "Bearer mm_0000000000_not-a-real-key"}}
    wrong = []
    operations = _operations(client.app.fastapi)
    assert len(operations) >= 30
    for method, template, action in operations:
        url = _url(template)
        for caller, headers in callers.items():
            body = {} if method in ("POST", "PUT") else None
            response = client.request(method, url, headers=headers, json=body)
            if (method, template) in PUBLIC:
                expected = "allowed"
            elif caller in ROLES:
                expected = "allowed" if action in PERMISSIONS[caller] else "forbidden"
            else:
                expected = "unauthenticated"
            got = {401: "unauthenticated", 403: "forbidden"}.get(response.status_code, "allowed")
            if got != expected or response.status_code >= 500:
                wrong.append(f"{method} {template} as {caller}: {response.status_code}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def _tenant_request(client: Any, method: str, url: str, key: str) -> Any:
    """A request that would succeed for the model's own project: valid bodies, so what answers
    is the model lookup, not body validation."""
    headers = {"Authorization": f"Bearer {key}"}
    if url.endswith("/predict/csv"):
        return client.request(method, url, headers={**headers, "Content-Type": "text/csv"}, content=CSV)
    if url.endswith(("/predict/file", "/explain/file")):
        return client.request(method, url, headers=headers, files={"file": ("rows.csv", CSV, "text/csv")})
    body: Any = {} if method in ("POST", "PUT") else None
    for suffix, valid in TENANT_BODIES.items():
        if url.endswith(suffix):
            body = valid
    return client.request(method, url, headers=headers, json=body)


ROW = {"mean radius": 14.0, "mean texture": 20.0}
CSV = b"mean radius,mean texture\n14.0,20.0\n"
TENANT_BODIES = {
    "/promote": {"stage": "staging"}, "/aliases/champion": {"version": 1},
    "/predict": {"rows": [ROW]}, "/explain": {"rows": [ROW]},
    "/infer": {"inputs": [{"name": "mean radius", "shape": [1, 1], "datatype": "FP32", "data": [14.0]}]},
}


@pytest.mark.timeout(900)  # ~300 requests, some through SHAP: minutes on a busy two-core machine
def test_a_key_of_another_project_sees_nothing_of_this_one(api: Any) -> None:
    """The tenants column: every operation, called by every role of another project, is refused
    by role exactly as the table says; where the role is allowed, whatever names this project's
    model or key answers exactly as for a name that exists nowhere (404, not 403: names must not
    leak), and no answer mentions this project's names.
    """
    client, keys = api
    state = client.app.fastapi.state.medmaas
    _, victim = state.keys.create("victim", "clinician", created_by="test")
    own_names = {"wdbc", victim.key_id, *(k.split("_")[1] for k in keys.values())}
    state.registry.create_project("other")
    others = {role: state.keys.create(f"other-{role}", role, created_by="test", project="other")[0]
              for role in ROLES}
    wrong = []
    for method, template, action in _operations(client.app.fastapi):
        if (method, template) in PUBLIC:
            continue
        url = _url(template).replace("no-such-key", victim.key_id)
        # Uploading a dataset creates it in the caller's own project: nothing of ours is named.
        names_ours = ("{name}" in template or "{key_id}" in template) and (method, template) != (
            "POST", "/v1/datasets/{name}")
        for role, key in others.items():
            response = _tenant_request(client, method, url, key)
            if action not in PERMISSIONS[role]:
                expected = {403}
            elif names_ours and not (template.startswith("/v1/keys") and role == "sysadmin"):
                expected = {404}
                missing = _tenant_request(client, method, url.replace("wdbc", "zz-nowhere").replace(
                    victim.key_id, "zz-nowhere"), key)
                if missing.text.replace("zz-nowhere", "X").replace(missing.headers["x-request-id"], "") != \
                        response.text.replace("wdbc", "X").replace(victim.key_id, "X").replace(
                            response.headers["x-request-id"], ""):
                    wrong.append(f"{method} {template} as other-project {role}: answers differently "
                                 f"for this project's name than for none: {response.text} vs {missing.text}")
            else:
                expected = set(range(200, 500)) - {401, 403, 404}
            if response.status_code not in expected:
                wrong.append(f"{method} {template} as other-project {role}: {response.status_code} {response.text[:200]}")
            # The audit trail shows the caller's own requests (denied ones name the path asked
            # for); everything else must not mention this project's names.
            elif role != "sysadmin" and response.status_code < 300 and template != "/v1/audit":
                leaked = sorted(n for n in own_names if n in response.text)
                if leaked:
                    wrong.append(f"{method} {template} as other-project {role} shows {leaked}")
    assert not wrong, "\n".join(wrong)
    # only the installation admin reached across: the victim key is revoked, by it
    events = state.audit.tail(5, action="key.revoke")
    assert state.keys.get(victim.key_id).revoked_at is not None
    assert [(e.resource, e.role, e.project) for e in events] == [(victim.key_id, "sysadmin", "default")]
