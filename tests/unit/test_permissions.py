"""The permission table: each role may do exactly what the design says, nothing more."""

from __future__ import annotations

import pytest

from medmaas.exceptions import InvalidInputError, PermissionDeniedError
from medmaas.security import ACTIONS, ROLES, Principal, allowed, check_role, require
from medmaas.security.permissions import actions_for

EXPECTED = {
    "sysadmin": set(ACTIONS),
    "admin": set(ACTIONS) - {"projects:manage"},
    "developer": {
        "models:read",
        "models:write",
        "models:promote",
        "predict",
        "explain",
        "jobs:read",
        "datasets:write",
        "datasets:read",
        "deid",
        "entities",
    },
    "clinician": {"models:read", "predict", "explain", "deid", "entities"},
    "auditor": {"models:read", "audit:read", "jobs:read"},
}


def test_the_roles_are_the_four_of_the_design_and_the_installation_admin() -> None:
    assert set(ROLES) == set(EXPECTED)
    # only the installation admin reaches across projects
    assert [role for role in ROLES if allowed(role, "projects:manage")] == ["sysadmin"]
    assert {"keys:manage", "audit:read", "models:promote", "predict"} <= ACTIONS


@pytest.mark.parametrize("role", sorted(EXPECTED))
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_permission_matrix(role: str, action: str) -> None:
    principal = Principal(key_id="k", name="n", role=role, project="default")
    if action in EXPECTED[role]:
        require(principal, action)
        assert allowed(role, action)
    else:
        with pytest.raises(PermissionDeniedError, match=f"^role '{role}' may not {action}$"):
            require(principal, action)


def test_developers_cannot_manage_keys_or_read_the_audit_trail() -> None:
    assert not allowed("developer", "keys:manage")
    assert not allowed("developer", "audit:read")


def test_an_unknown_role_may_do_nothing_and_cannot_be_issued() -> None:
    principal = Principal(key_id="k", name="n", role="root", project="default")
    with pytest.raises(PermissionDeniedError):
        require(principal, "models:read")
    with pytest.raises(
        InvalidInputError, match="role must be one of sysadmin, admin, developer, clinician, auditor"
    ):
        check_role("root")
    assert actions_for("clinician") == frozenset(EXPECTED["clinician"])


def test_an_action_missing_from_the_table_is_a_bug_not_a_denial() -> None:
    with pytest.raises(ValueError, match="unknown action 'models:delete'"):
        allowed("admin", "models:delete")
