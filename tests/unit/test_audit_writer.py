"""The group-commit audit writer: every event durable before its caller goes on, many events
per commit, failures reach every waiter, a bounded queue."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from medmaas.audit import AuditEvent, AuditLog
from medmaas.audit.writer import AuditWriter
from medmaas.exceptions import AuditUnavailableError, OverloadedError
from medmaas.registry import Registry
from medmaas.settings import Settings


@pytest.fixture()
def log(tmp_path: Any) -> Iterator[AuditLog]:
    registry = Registry.open(Settings(home=tmp_path))
    yield AuditLog(registry)
    registry.close()


def _event(i: int) -> AuditEvent:
    return AuditEvent(actor="k1", role="clinician", action="model.predict", resource="wdbc",
                      version=1, input_sha256=f"{i:064x}", detail={"rows": 1})


def test_a_burst_is_written_whole_in_few_commits(log: AuditLog) -> None:
    writer = AuditWriter(log).start()

    async def burst() -> None:
        await asyncio.gather(*(writer.append(_event(i)) for i in range(500)))

    asyncio.run(burst())
    writer.close()
    stored = log.tail(1000)
    assert sorted(e.input_sha256 for e in stored) == [f"{i:064x}" for i in range(500)]
    assert log.verify().ok
    assert writer.written == 500 and writer.commits < 100


def test_append_returns_only_after_the_event_is_stored(log: AuditLog) -> None:
    writer = AuditWriter(log).start()

    async def one() -> int:
        await writer.append(_event(7))
        return len(log.tail(10))  # read back at once, from another connection

    assert asyncio.run(one()) == 1
    writer.close()


def test_blocking_appends_from_threads(log: AuditLog) -> None:
    writer = AuditWriter(log).start()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: writer.append_blocking(_event(i)), range(200)))
    writer.close()
    assert len(log.tail(1000)) == 200 and log.verify().ok


def test_a_failed_commit_fails_every_request_in_it(log: AuditLog, monkeypatch: Any) -> None:
    def broken(events: Any) -> None:
        list(events)
        raise OSError("disk full")

    monkeypatch.setattr(log, "write", broken)
    writer = AuditWriter(log).start()

    async def burst() -> list[Any]:
        return await asyncio.gather(*(writer.append(_event(i)) for i in range(20)),
                                    return_exceptions=True)

    results = asyncio.run(burst())
    writer.close()
    assert all(isinstance(r, AuditUnavailableError) for r in results)
    monkeypatch.undo()
    assert log.tail(10) == []


def test_the_queue_is_bounded(log: AuditLog, monkeypatch: Any) -> None:
    gate = threading.Event()
    real_write = log.write

    def slow(events: Any) -> Any:
        gate.wait(10)
        return real_write(events)

    monkeypatch.setattr(log, "write", slow)
    writer = AuditWriter(log, max_pending=5).start()

    async def flood() -> list[Any]:
        tasks = [asyncio.ensure_future(writer.append(_event(i))) for i in range(30)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(flood())
    writer.close()
    refused = [r for r in results if isinstance(r, OverloadedError)]
    written = [r for r in results if r is None]
    assert refused and written
    assert len(log.tail(100)) == len(written)


def test_a_closed_writer_refuses(log: AuditLog) -> None:
    writer = AuditWriter(log).start()
    writer.close()
    with pytest.raises(AuditUnavailableError):
        writer.append_blocking(_event(1))
