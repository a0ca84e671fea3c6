"""The group-commit audit writer (a child process): every event durable before its caller goes
on, many events per commit, failures reach every waiter, a bounded queue, a dead writer
replaced."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from medmaas.audit import AuditEvent, AuditLog
from medmaas.audit.writer import AuditWriter
from medmaas.audit.writer_process import decode_event, encode_event
from medmaas.exceptions import AuditUnavailableError, InvalidInputError, OverloadedError
from medmaas.registry import Registry
from medmaas.registry.tables import utcnow
from medmaas.settings import Settings


@pytest.fixture()
def registry(tmp_path: Any) -> Iterator[Registry]:
    registry = Registry.open(Settings(home=tmp_path))
    yield registry
    registry.close()


@pytest.fixture()
def log(registry: Registry) -> AuditLog:
    return AuditLog(registry)


@pytest.fixture()
def writer(registry: Registry) -> Iterator[AuditWriter]:
    writer = AuditWriter(registry.database_url).start()
    yield writer
    writer.close()


def _event(i: int) -> AuditEvent:
    return AuditEvent(actor="k1", role="clinician", action="model.predict", resource="wdbc",
                      version=1, input_sha256=f"{i:064x}", detail={"rows": 1})


async def _all(writer: AuditWriter, ids: range) -> list[Any]:
    return await asyncio.gather(*(writer.append(_event(i)) for i in ids), return_exceptions=True)


def test_events_cross_the_process_boundary_unchanged() -> None:
    event = AuditEvent(actor="k1", role=None, action="model.predict", project="ward-7",
                       resource="sepsis", version=None, outcome="denied",
                       input_sha256="a" * 64, detail={"rows": 3, "note": "ünïcode"}, at=utcnow())
    assert decode_event(encode_event(event)[:-1]) == event
    assert decode_event(encode_event(_event(1))[:-1]).at is None  # stamped by the writer


def test_a_burst_is_written_whole_in_few_commits(writer: AuditWriter, log: AuditLog) -> None:
    assert asyncio.run(_all(writer, range(500))) == [None] * 500
    stored = log.tail(1000)
    assert sorted(e.input_sha256 for e in stored) == [f"{i:064x}" for i in range(500)]
    assert log.verify().ok
    assert writer.written == 500 and writer.commits < 250


def test_append_returns_only_after_the_event_is_stored(writer: AuditWriter, log: AuditLog) -> None:
    async def one() -> int:
        await writer.append(_event(7))
        return len(log.tail(10))  # read back at once, from another process's connection

    assert asyncio.run(one()) == 1


def test_a_failed_commit_fails_every_request_in_it(writer: AuditWriter, registry: Registry,
                                                   log: AuditLog) -> None:
    with registry.engine.begin() as conn:  # the database refuses every insert, as a full disk would
        conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON audit_events "
                          "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    results = asyncio.run(_all(writer, range(20)))
    assert all(isinstance(r, AuditUnavailableError) for r in results)
    assert log.tail(10) == []
    with registry.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse"))
    assert asyncio.run(_all(writer, range(3))) == [None] * 3  # the same writer goes on
    assert len(log.tail(10)) == 3 and log.verify().ok


def test_the_queue_is_bounded(registry: Registry, log: AuditLog) -> None:
    writer = AuditWriter(registry.database_url, max_pending=5).start()
    blocker = registry.engine.raw_connection()
    blocker.cursor().execute("BEGIN IMMEDIATE")  # another process holds the write lock

    async def flood() -> list[Any]:
        tasks = [asyncio.ensure_future(writer.append(_event(i))) for i in range(30)]
        await asyncio.sleep(0.2)
        blocker.rollback()
        return await asyncio.gather(*tasks, return_exceptions=True)

    try:
        results = asyncio.run(flood())
    finally:
        blocker.close()
        writer.close()
    refused = [r for r in results if isinstance(r, OverloadedError)]
    written = [r for r in results if r is None]
    assert len(refused) == 25 and len(written) == 5
    assert len(log.tail(100)) == 5


def test_a_killed_writer_fails_its_waiters_and_is_replaced(writer: AuditWriter, log: AuditLog) -> None:
    async def scenario() -> tuple[list[Any], list[Any]]:
        first_pid = writer.pid
        assert first_pid is not None
        await writer.append(_event(0))
        os.kill(first_pid, signal.SIGSTOP)  # events reach the socket but are never answered
        waiting = [asyncio.ensure_future(writer.append(_event(i))) for i in range(1, 4)]
        await asyncio.sleep(0.05)
        os.kill(first_pid, signal.SIGKILL)
        lost = await asyncio.gather(*waiting, return_exceptions=True)
        again = await _all(writer, range(10, 13))
        assert writer.pid not in (None, first_pid)
        return lost, again

    lost, again = asyncio.run(scenario())
    assert all(isinstance(r, AuditUnavailableError) for r in lost)
    assert again == [None] * 3
    assert {f"{i:064x}" for i in (0, 10, 11, 12)} <= {e.input_sha256 for e in log.tail(10)}
    assert log.verify().ok


def test_close_writes_what_was_queued(registry: Registry, log: AuditLog) -> None:
    writer = AuditWriter(registry.database_url).start()

    async def queue_then_close() -> list[Any]:
        futures = [writer.submit(_event(i)) for i in range(50)]
        writer.close()
        return await asyncio.gather(*futures, return_exceptions=True)

    assert asyncio.run(queue_then_close()) == [None] * 50
    assert len(log.tail(100)) == 50


def test_a_closed_writer_refuses(writer: AuditWriter) -> None:
    writer.close()
    with pytest.raises(AuditUnavailableError):
        asyncio.run(writer.append(_event(1)))


def test_an_in_memory_database_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidInputError, match="in-memory"):
        AuditWriter("sqlite://")
