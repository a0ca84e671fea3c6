"""Group commit for the audit log: many requests' events, one transaction, one fsync, in a
process of its own.

A prediction must not be answered before its audit event is durable (the log fails closed),
but one fsync per prediction caps a server at a few hundred answers a second. The writer
takes every event queued while the previous transaction was committing and writes them
together; each request awaits its own event's commit and only then answers. There is no
timer: under light load a batch is one event and waits for nothing, under heavy load batches
grow to fill the time one commit takes. Nothing is acknowledged that is not on disk, and a
failed commit fails every request in it.

The commits run in a child process (:mod:`medmaas.audit.writer_process`) fed over a private
socket pair, not in a thread: a thread needs the GIL after every database call while the event
loop holds it answering requests, which tripled the commit time under load. The event loop only
writes one line per event, at once (so the commit overlaps work on the next requests), and
reads one line per commit. If the child dies, the requests waiting on it fail with 503 and the next request
starts a new one; an event of such a request may or may not have been written, but its result
was never shown, which is what failing closed means.

The queue is bounded: when events arrive faster than the database can take them, ``submit``
refuses with :class:`~medmaas.exceptions.OverloadedError` (HTTP 503, Retry-After) instead of
letting memory and latency grow without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
from collections import deque

import orjson
from sqlalchemy.engine import make_url

from medmaas.audit.events import AuditEvent
from medmaas.audit.writer_process import encode_event
from medmaas.exceptions import AuditUnavailableError, InvalidInputError, OverloadedError

logger = logging.getLogger(__name__)

MAX_PENDING = 20_000
_SOCKET_BUFFER = 1 << 20


class AuditWriter:
    """Appends events to the audit log at ``database_url`` in group commits, from an event loop.

    >>> writer = AuditWriter(registry.database_url).start()  # doctest: +SKIP
    >>> await writer.append(event)   # in a request handler: returns once durable  # doctest: +SKIP
    >>> writer.close()               # writes what is queued, then stops          # doctest: +SKIP
    """

    def __init__(self, database_url: str, *, max_pending: int = MAX_PENDING) -> None:
        url = make_url(database_url)
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            raise InvalidInputError("the audit writer runs in its own process and cannot reach an "
                              "in-memory SQLite database; use a database file or PostgreSQL")
        self.database_url = database_url
        self.max_pending = max_pending
        #: Commits and events written, for the metrics endpoint and the tests.
        self.commits = 0
        self.written = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: deque[asyncio.Future[None]] = deque()  # in the order sent
        self._unsent = bytearray()  # what the socket did not take yet
        self._answers = b""  # an incomplete answer line
        self._writing = False  # waiting for the socket to take ``_unsent``
        self._closing = False

    def start(self) -> AuditWriter:
        if self._sock is None and not self._closing:
            self._spawn()
        return self

    @property
    def backlog(self) -> int:
        """Events sent or queued whose commit has not been answered yet."""
        return len(self._waiting)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._sock is not None else None

    # -- queueing ---------------------------------------------------------------------------

    def submit(self, event: AuditEvent) -> asyncio.Future[None]:
        """Queue ``event``; the returned future (of the running loop) resolves once it is durable."""
        loop = asyncio.get_running_loop()
        if self._closing:
            raise AuditUnavailableError("the audit writer is not running; nothing was done")
        if len(self._waiting) >= self.max_pending:
            raise OverloadedError(
                f"the audit log is {len(self._waiting)} events behind; try again shortly",
                retry_after_s=1.0,
            )
        if self._sock is None:
            self._spawn()  # the previous writer died; its requests have already failed
        if loop is not self._loop:
            self._attach(loop)
        future: asyncio.Future[None] = loop.create_future()
        self._waiting.append(future)
        self._unsent += encode_event(event)
        if not self._writing:
            self._send()
        return future

    async def append(self, event: AuditEvent) -> None:
        """Queue ``event`` and wait until it is committed; raises if the commit failed."""
        await self.submit(event)

    # -- the child process ------------------------------------------------------------------

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(OSError):  # the kernel may cap it; smaller only means more sends
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "medmaas.audit.writer_process", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise AuditUnavailableError(f"the audit writer could not be started ({exc})") from exc
        finally:
            theirs.close()
        ours.sendall(orjson.dumps({"database_url": self.database_url}) + b"\n")
        ours.setblocking(False)
        self._sock, self._loop = ours, None
        self._unsent.clear()
        self._answers = b""

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Watch the socket from ``loop`` (a server has one loop; tests start several)."""
        self._detach()
        assert self._sock is not None
        loop.add_reader(self._sock.fileno(), self._on_readable)
        self._loop = loop
        if self._unsent:
            self._watch_writable(True)

    def _detach(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed() and self._sock is not None:
            loop.remove_reader(self._sock.fileno())
            if self._writing:
                loop.remove_writer(self._sock.fileno())
        self._writing = False

    def _send(self) -> None:
        assert self._sock is not None
        try:
            sent = self._sock.send(self._unsent)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            self._lost(f"sending to it failed ({exc})")
            return
        del self._unsent[:sent]
        self._watch_writable(bool(self._unsent))

    def _watch_writable(self, on: bool) -> None:
        if on == self._writing or self._loop is None or self._sock is None:
            return
        if on:
            self._loop.add_writer(self._sock.fileno(), self._send)
        else:
            self._loop.remove_writer(self._sock.fileno())
        self._writing = on

    def _on_readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(f"reading from it failed ({exc})")
            return
        if not data:
            self._lost("it exited")
            return
        self._settle(data)

    def _settle(self, data: bytes) -> None:
        lines = (self._answers + data).split(b"\n")
        self._answers = lines.pop()
        for line in lines:
            answer = orjson.loads(line)
            n, failure = answer["n"], answer.get("error")
            error: AuditUnavailableError | None = None
            if failure is None:
                self.commits += 1
                self.written += n
            else:
                error = AuditUnavailableError(
                    "the audit log could not be written, so the result was withheld; try again")
            for _ in range(n):
                _resolve(self._waiting.popleft(), error)

    def _lost(self, why: str) -> None:
        """The child is gone (or unreachable): fail everyone waiting, start afresh next time."""
        proc, sock = self._proc, self._sock
        self._detach()
        self._sock = self._proc = None
        if sock is not None:
            sock.close()
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
        waiting = len(self._waiting)
        logger.error("the audit writer process stopped: %s (exit code %s); %d request(s) waiting "
                     "for their audit events fail with 503, and the next one starts a new writer",
                     why, code, waiting)
        self._fail_waiting()
        self._unsent.clear()

    def _fail_waiting(self) -> None:
        error = AuditUnavailableError(
            "the audit writer stopped before this event was confirmed, so the result was withheld; "
            "try again")
        while self._waiting:
            _resolve(self._waiting.popleft(), error)

    def close(self, timeout: float = 30.0) -> None:
        """Stop taking events, write what is queued, stop the child."""
        if self._closing:
            return
        self._closing = True
        proc, sock = self._proc, self._sock
        if sock is None or proc is None:
            return
        self._detach()
        try:
            sock.settimeout(timeout)
            sock.sendall(self._unsent)
            self._unsent.clear()
            sock.shutdown(socket.SHUT_WR)  # the child writes what it has, answers, and exits
            while data := sock.recv(1 << 16):
                self._settle(data)
        except OSError as exc:
            logger.error("the audit writer did not finish cleanly: %s", exc)
        finally:
            sock.close()
            self._sock = self._proc = None
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self._fail_waiting()


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client went away)
        return
    try:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
    except RuntimeError:  # its event loop is closed: nobody is waiting any more
        logger.debug("audit commit answered after its event loop closed")
