"""Group commit for the audit log: many requests' events, one transaction, one fsync.

A prediction must not be answered before its audit event is durable (the log fails closed),
but one fsync per prediction caps a server at a few hundred answers a second. The writer
thread takes every event queued while the previous transaction was committing and writes
them together; each request awaits its own event's commit and only then answers. There is no
timer: under light load a batch is one event and waits for nothing, under heavy load batches
grow to fill the time one commit takes. Nothing is acknowledged that is not on disk, and a
failed commit fails every request in it.

The queue is bounded: when events arrive faster than the database can take them, ``submit``
refuses with :class:`~medmaas.exceptions.OverloadedError` (HTTP 503, Retry-After) instead of
letting memory and latency grow without limit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from concurrent.futures import Future
from typing import Any

from medmaas.audit.events import AuditEvent
from medmaas.audit.log import AuditLog
from medmaas.exceptions import AuditUnavailableError, OverloadedError

logger = logging.getLogger(__name__)

MAX_BATCH = 2000
MAX_PENDING = 20_000


class AuditWriter:
    """A background thread that appends queued events to ``log`` in group commits.

    >>> writer = AuditWriter(AuditLog(registry)).start()  # doctest: +SKIP
    >>> await writer.append(event)        # in a request handler: returns once durable  # doctest: +SKIP
    >>> writer.append_blocking(event)     # from a worker thread                         # doctest: +SKIP
    >>> writer.close()                    # drains the queue, then stops                 # doctest: +SKIP
    """

    def __init__(self, log: AuditLog, *, max_batch: int = MAX_BATCH,
                 max_pending: int = MAX_PENDING) -> None:
        self.log = log
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._pending: list[tuple[AuditEvent, Any]] = []
        self._cond = threading.Condition(threading.Lock())
        self._closing = False
        self._thread: threading.Thread | None = None
        #: Commits and events written, for the metrics endpoint and the tests.
        self.commits = 0
        self.written = 0

    def start(self) -> AuditWriter:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="medmaas-audit-writer", daemon=True)
            self._thread.start()
        return self

    # -- queueing ---------------------------------------------------------------------------

    def submit(self, event: AuditEvent) -> asyncio.Future[None]:
        """Queue ``event``; the returned future (of the running loop) resolves once it is durable."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(event, future)
        return future

    async def append(self, event: AuditEvent) -> None:
        """Queue ``event`` and wait until it is committed; raises if the commit failed."""
        await self.submit(event)

    def append_blocking(self, event: AuditEvent, timeout: float | None = 30.0) -> None:
        """For code outside the event loop: queue ``event`` and block until it is durable."""
        future: Future[None] = Future()
        self._enqueue(event, future)
        future.result(timeout)

    def _enqueue(self, event: AuditEvent, waiter: Any) -> None:
        with self._cond:
            if self._closing or self._thread is None:
                raise AuditUnavailableError("the audit writer is not running; nothing was done")
            if len(self._pending) >= self.max_pending:
                raise OverloadedError(
                    f"the audit log is {len(self._pending)} events behind; try again shortly",
                    retry_after_s=1.0,
                )
            self._pending.append((event, waiter))
            self._cond.notify()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    # -- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing:
                    self._cond.wait()
                if not self._pending:
                    return  # closing and drained
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
            error: BaseException | None = None
            try:
                self.log.write(event for event, _ in batch)
                self.commits += 1
                self.written += len(batch)
            except Exception as exc:  # the log already logged it; every waiter gets it
                error = AuditUnavailableError(
                    "the audit log could not be written, so the result was withheld; try again"
                )
                error.__cause__ = exc
            _settle(batch, error)

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking events, write what is queued, stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)


def _settle(batch: list[tuple[AuditEvent, Any]], error: BaseException | None) -> None:
    # One wake-up per event loop, not one per request: call_soon_threadsafe writes to the
    # loop's self-pipe, which costs as much as the rest of a request.
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = defaultdict(list)
    for _, waiter in batch:
        if isinstance(waiter, asyncio.Future):
            by_loop[waiter.get_loop()].append(waiter)
        elif error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures, error)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            logger.debug("audit commit finished after its event loop closed")


def _resolve(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (client went away)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
