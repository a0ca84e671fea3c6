"""The audit trail: typed events in an append-only, hash-chained log that fails closed.

>>> from medmaas.audit import AuditEvent, AuditLog, hash_input  # doctest: +SKIP
>>> log = AuditLog(registry)  # doctest: +SKIP
>>> log.append(AuditEvent(actor=p.key_id, role=p.role, action="model.predict",
...                       resource="sepsis-risk", version=3,
...                       input_sha256=hash_input(body)))  # doctest: +SKIP
>>> log.verify().ok  # doctest: +SKIP
True
"""

from __future__ import annotations

from medmaas.audit.events import (
    GENESIS_HASH,
    AuditEvent,
    StoredAuditEvent,
    VerifyReport,
    hash_input,
)
from medmaas.audit.log import AuditLog

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "AuditLog",
    "StoredAuditEvent",
    "VerifyReport",
    "hash_input",
]
