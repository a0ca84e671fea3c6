"""The one permission table: which role may do which action.

Routes and CLI commands name an action and call :func:`require`; nothing else decides access,
so this table is the whole answer to "who may do what".

Every key belongs to one project (tenant) and acts inside it only: what another project holds
is answered as if it did not exist (404), so not even names leak. ``sysadmin`` administers the
installation: besides everything ``admin`` may do in its own project, it creates projects, issues
and revokes keys in any project and reads the whole audit trail (``projects:manage``). It does
not read or use another project's models: for that it must issue itself a key there, which is
audited.

>>> allowed("clinician", "predict"), allowed("clinician", "models:promote")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from medmaas.exceptions import InvalidInputError, PermissionDeniedError

ROLES: tuple[str, ...] = ("sysadmin", "admin", "developer", "clinician", "auditor")

ACTIONS: frozenset[str] = frozenset(
    {
        "models:read",  # list models, versions, cards, stage history
        "models:write",  # register, train, set aliases
        "models:promote",  # change a version's stage
        "predict",
        "explain",
        "keys:manage",  # create, list, revoke API keys
        "audit:read",  # read and verify the audit trail
        "jobs:read",
        "datasets:write",  # upload and delete stored (encrypted) datasets
        "datasets:read",  # list them and read their content
        "deid",  # de-identify text
        "entities",  # find problems, medications and tests in text
        "text:identified",  # send notes to a text model without de-identifying them first
        "projects:manage",  # create projects; keys and audit of every project (installation admin)
    }
)

PERMISSIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "sysadmin": ACTIONS,
        "admin": ACTIONS - {"projects:manage"},
        "developer": frozenset(
            {
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
            }
        ),
        "clinician": frozenset({"models:read", "predict", "explain", "deid", "entities"}),
        "auditor": frozenset({"models:read", "audit:read", "jobs:read"}),
    }
)


class HasRole(Protocol):
    @property
    def role(self) -> str: ...


def check_role(role: object) -> str:
    """``role`` if it is one of :data:`ROLES`, else InvalidInputError listing the valid ones."""
    if not isinstance(role, str) or role not in PERMISSIONS:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return role


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may perform ``action``; an unknown role may do nothing."""
    _check_action(action)
    return action in PERMISSIONS.get(role, frozenset())


def require(principal: HasRole, action: str) -> None:
    """Raise PermissionDeniedError unless the principal's role allows ``action``.

    >>> from types import SimpleNamespace
    >>> require(SimpleNamespace(role="admin"), "keys:manage")
    """
    if not allowed(principal.role, action):
        raise PermissionDeniedError(f"role '{principal.role}' may not {action}")


def actions_for(role: str) -> frozenset[str]:
    """Everything ``role`` may do, e.g. to show in a key's details."""
    return PERMISSIONS[check_role(role)]


def _check_action(action: str) -> None:
    # An action missing from the table is a bug in the caller; fail loudly and closed.
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(sorted(ACTIONS))}")
