"""Who may call and what they may do: API keys (:mod:`.keys`) and the role table (:mod:`.permissions`)."""

from __future__ import annotations

from medmaas.security.keys import KeyInfo, KeyStore, Principal
from medmaas.security.permissions import (
    ACTIONS,
    PERMISSIONS,
    ROLES,
    actions_for,
    allowed,
    check_role,
    require,
)

__all__ = [
    "ACTIONS",
    "PERMISSIONS",
    "ROLES",
    "KeyInfo",
    "KeyStore",
    "Principal",
    "actions_for",
    "allowed",
    "check_role",
    "require",
]
