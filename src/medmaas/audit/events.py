"""Audit event types and the hash that chains them.

Each stored event's hash is ``sha256(prev_hash + canonical JSON of its fields)``, the fields
including its sequence number and timestamp. Editing any field, deleting or inserting a row, or
swapping two rows changes a hash that a later row (or a recomputation) no longer matches.

Events describe who did what to which resource; they never hold a request body or any patient
data. An input is represented by :func:`hash_input`, so a request can be matched to its event
without the log holding the input itself.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medmaas.exceptions import InvalidInputError
from medmaas.registry.tables import DEFAULT_PROJECT, OUTCOMES
from medmaas.registry.validation import canonical_json, check_name, check_text, json_safe

GENESIS_HASH = "0" * 64
MAX_DETAIL_BYTES = 16 * 1024
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def hash_input(obj: Any) -> str:
    """The sha256 of an input's canonical JSON (or of raw bytes), for ``input_sha256``.

    Key order does not matter; NaN is hashed as ``NaN`` so missing values do not fail.

    >>> hash_input({"b": 1, "a": 2}) == hash_input({"a": 2, "b": 1})
    True
    """
    if isinstance(obj, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(obj)).hexdigest()

    def default(value: Any) -> Any:
        if hasattr(value, "tolist"):
            return value.tolist()
        if isinstance(value, datetime):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} is not JSON-serializable")

    try:
        data = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
        ).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"cannot hash input: {exc}") from None
    return hashlib.sha256(data).hexdigest()


def format_at(at: datetime) -> str:
    """The timestamp as hashed: UTC ISO 8601 with microseconds (what every database keeps)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_json(fields)).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """Something that happened: who (actor, role), what (action, outcome), to what (resource).

    ``at`` defaults to the moment the event is written; pass it when events are queued and
    written later in a batch, so each keeps the time it happened.

    >>> AuditEvent(actor="k1", role="clinician", action="model.predict",
    ...            resource="sepsis-risk", version=3).outcome
    'ok'
    """

    actor: str
    action: str
    role: str | None = None
    project: str = DEFAULT_PROJECT
    resource: str = ""
    version: int | None = None
    outcome: str = "ok"
    input_sha256: str | None = None
    detail: dict[str, Any] = field(default_factory=dict, hash=False)
    at: datetime | None = None

    def __post_init__(self) -> None:
        check_text(self.actor, "audit actor")
        if (
            not isinstance(self.action, str)
            or len(self.action) > 64
            or not _ACTION.match(self.action)
        ):
            raise InvalidInputError(
                f"audit action must look like 'model.predict' (dotted lowercase words); "
                f"got {self.action!r}"
            )
        if self.role is not None:
            check_text(self.role, "audit role", max_len=32)
        check_name(self.project, "project name")
        if not isinstance(self.resource, str) or len(self.resource) > 300:
            raise InvalidInputError("audit resource must be a string of at most 300 characters")
        if self.version is not None and (
            isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0
        ):
            raise InvalidInputError(f"audit version must be a version number; got {self.version!r}")
        if self.outcome not in OUTCOMES:
            raise InvalidInputError(
                f"audit outcome must be one of {', '.join(OUTCOMES)}; got {self.outcome!r}"
            )
        if self.input_sha256 is not None and (
            not isinstance(self.input_sha256, str) or not _SHA256.match(self.input_sha256)
        ):
            raise InvalidInputError("input_sha256 must be 64 lowercase hex characters (hash_input)")
        if not isinstance(self.detail, dict):
            raise InvalidInputError(
                f"audit detail must be an object; got {type(self.detail).__name__}"
            )
        detail = self.detail if _flat_and_small(self.detail) else json_safe(self.detail, "audit detail")
        if detail is not self.detail and len(canonical_json(detail)) > MAX_DETAIL_BYTES:
            raise InvalidInputError(
                f"audit detail must be at most {MAX_DETAIL_BYTES} bytes of JSON; "
                "summarise it (and never put patient data in it)"
            )
        object.__setattr__(self, "detail", detail)
        if self.at is not None and (not isinstance(self.at, datetime) or self.at.tzinfo is None):
            raise InvalidInputError("audit 'at' must be a timezone-aware datetime")

    def hashed_fields(self, seq: int, at: datetime) -> dict[str, Any]:
        """Exactly what the chain hash covers, for the event stored as ``seq`` at ``at``."""
        return {
            "seq": seq,
            "at": format_at(at),
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "project": self.project,
            "resource": self.resource,
            "version": self.version,
            "outcome": self.outcome,
            "input_sha256": self.input_sha256,
            "detail": self.detail,
        }


_PLAIN = frozenset({str, int, bool, type(None)})


def _flat_and_small(detail: dict[str, Any]) -> bool:
    """Whether ``detail`` is already plain JSON and far below the size cap, as the serving
    path's ``{"rows": 1}`` is: then the deep copy through JSON can be skipped."""
    return len(detail) <= 16 and all(
        type(k) is str and len(k) <= 64 and type(v) in _PLAIN and (type(v) is not str or len(v) <= 256)
        and (type(v) is not int or abs(v) < 2**53)
        for k, v in detail.items()
    )


@dataclass(frozen=True, slots=True)
class StoredAuditEvent:
    """An event as the log holds it: its place in the chain and the hashes that bind it."""

    seq: int
    at: datetime
    actor: str
    role: str | None
    action: str
    project: str
    resource: str
    version: int | None
    outcome: str
    input_sha256: str | None
    detail: dict[str, Any] = field(hash=False)
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of checking the chain: ``ok``, or the first bad event and why.

    ``last_seq``/``last_hash`` are the head of the chain as found; record them somewhere else
    (a ticket, a second system) and pass them back as ``anchor`` to also detect events removed
    from the end, which a hash chain alone cannot see.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str
    last_seq: int | None = None
    last_hash: str | None = None
