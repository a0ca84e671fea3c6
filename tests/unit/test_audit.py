"""The audit log on SQLite: chaining, tamper detection, concurrency, fail-closed writes."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from medmaas.audit import GENESIS_HASH, AuditEvent, AuditLog, hash_input
from medmaas.exceptions import InvalidInputError
from medmaas.registry import Registry

# tests/ holds the checks shared with the PostgreSQL suite
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest_state import (  # noqa: E402
    check_appends_from_processes,
    check_audit_tamper_detection,
    check_concurrent_appends,
)


def _count(registry: Registry) -> int:
    with registry.engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM audit_events")).scalar_one()


def test_events_are_chained_from_the_genesis_hash(registry: Registry) -> None:
    log = AuditLog(registry)
    first = log.append(AuditEvent(actor="k1", role="admin", action="key.create", resource="k2"))
    second = log.append(AuditEvent(actor="k2", role="clinician", action="model.predict"))
    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    report = log.verify()
    assert (report.ok, report.checked, report.last_seq, report.last_hash) == (
        True,
        2,
        2,
        second.hash,
    )
    assert log.head() == (2, second.hash)


def test_empty_log_verifies(registry: Registry) -> None:
    report = AuditLog(registry).verify()
    assert (report.ok, report.checked, report.first_bad_seq) == (True, 0, None)


def test_edit_delete_and_reorder_are_detected(registry: Registry) -> None:
    check_audit_tamper_detection(registry)


def test_an_edited_detail_is_detected(registry: Registry) -> None:
    log = AuditLog(registry)
    log.append(AuditEvent(actor="k1", action="model.promote", detail={"to": "production"}))
    with registry.engine.begin() as conn:
        conn.execute(text("""UPDATE audit_events SET detail = '{"to": "staging"}'"""))
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 1)
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET detail = 'not json'"))
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 1)
    assert "edited" in report.reason


def test_concurrent_appends_from_threads_keep_one_chain(registry: Registry) -> None:
    check_concurrent_appends(registry)


def test_concurrent_appends_from_processes_keep_one_chain(
    registry: Registry, tmp_path: Path
) -> None:
    check_appends_from_processes(registry, tmp_path / "gate")


def test_a_batch_is_one_transaction_and_keeps_its_event_times(registry: Registry) -> None:
    log = AuditLog(registry)
    happened = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    stored = log.append_many(
        [
            AuditEvent(actor="k1", action="model.predict", at=happened + timedelta(seconds=i))
            for i in range(50)
        ]
    )
    assert [e.seq for e in stored] == list(range(1, 51))
    assert stored[0].at == happened
    assert log.tail(1)[0].at == happened + timedelta(seconds=49)
    assert log.append_many([]) == []
    assert log.verify().ok


def test_a_failed_write_raises_and_writes_nothing(registry: Registry) -> None:
    log = AuditLog(registry)
    log.append(AuditEvent(actor="k1", action="model.predict"))
    with registry.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))
    with pytest.raises(OperationalError):
        log.append_many([AuditEvent(actor="k1", action="model.predict") for _ in range(3)])
    with registry.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events_away RENAME TO audit_events"))
    assert _count(registry) == 1
    assert log.verify().ok


def test_tail_filters_and_returns_oldest_first(registry: Registry) -> None:
    log = AuditLog(registry)
    for i in range(6):
        log.append(
            AuditEvent(
                actor="alice" if i % 2 else "bob",
                action="model.predict" if i < 4 else "key.revoke",
                project="icu" if i == 5 else "default",
            )
        )
    assert [e.seq for e in log.tail(3)] == [4, 5, 6]
    assert [e.seq for e in log.tail(10, actor="alice")] == [2, 4, 6]
    assert [e.seq for e in log.tail(10, action="key.revoke")] == [5, 6]
    assert [e.seq for e in log.tail(10, project="icu")] == [6]
    assert log.tail(0) == []
    # Paging back: the page before the one that starts at seq 4, and filters still apply.
    assert [e.seq for e in log.tail(2, before=4)] == [2, 3]
    assert [e.seq for e in log.tail(10, actor="alice", before=6)] == [2, 4]
    assert log.tail(10, before=1) == []


def test_events_are_validated_and_never_hold_raw_input(registry: Registry) -> None:
    body = {"patient": {"age": 71, "lactate": 4.2}}
    event = AuditEvent(
        actor="k1",
        role="clinician",
        action="model.predict",
        outcome="ok",
        input_sha256=hash_input(body),
        detail={"latency_ms": float("nan"), "rows": 1},
    )
    assert event.detail == {"latency_ms": None, "rows": 1}
    stored = AuditLog(registry).append(event)
    assert stored.input_sha256 == hash_input({"patient": {"lactate": 4.2, "age": 71}})
    assert "lactate" not in repr(stored)

    bad = [
        {"outcome": "maybe"},
        {"action": "Predict"},
        {"action": "predict"},
        {"input_sha256": "abc"},
        {"actor": ""},
        {"project": "Bad Project"},
        {"version": -1},
        {"detail": {"blob": "x" * 20_000}},
        {"at": datetime(2025, 1, 1)},
    ]
    for overrides in bad:
        kwargs = {"actor": "k1", "action": "model.predict", **overrides}
        with pytest.raises(InvalidInputError):
            AuditEvent(**kwargs)


def test_hash_input_is_canonical() -> None:
    assert hash_input({"a": 1, "b": [1, 2]}) == hash_input({"b": [1, 2], "a": 1})
    assert hash_input({"a": 1}) != hash_input({"a": 2})
    assert hash_input(b"raw bytes") == hash_input(bytearray(b"raw bytes"))
    assert len(hash_input({"x": float("nan")})) == 64
    with pytest.raises(InvalidInputError, match="cannot hash input"):
        hash_input({"x": object()})
