"""The audit writer's own process: group commits without touching the server's GIL.

Run by :class:`medmaas.audit.writer.AuditWriter` as ``python -m medmaas.audit.writer_process
FD``, where FD is one end of a private socket pair. The server sends one event per line; this
process takes every line that has arrived, appends them to the log in one transaction (one
fsync), and answers one line per commit: ``{"n": 13}``, or ``{"n": 13, "error": "..."}`` when
that commit failed and none of its events were written. Answers come in the order the events
were sent, so the server knows which requests each one settles.

Why a process: in the server's own process the commit needs the GIL after every call into the
database driver, and the event loop, busy answering requests, holds it; commits that take
0.4 ms alone took 1-3 ms under load, and every request waited for them. Here the commit runs
on its own interpreter, and the server only writes a line and reads an answer.

The first line carries the database URL (not the command line, which ``ps`` shows to every
user). End of input means the server closed its end: what has arrived is written and answered,
then this process exits. Interrupts are ignored so that Ctrl-C on the server still lets the
queue drain; the server's closing the socket is what stops it.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from datetime import datetime
from typing import Any

import orjson

from medmaas.audit.events import AuditEvent, format_at

logger = logging.getLogger("medmaas.audit.writer_process")

#: Events per transaction at most; a backlog larger than this is written in several commits.
MAX_BATCH = 2000
_READ_SIZE = 1 << 16


def encode_event(event: AuditEvent) -> bytes:
    """One event as the line the server sends (its own newline included)."""
    return orjson.dumps([
        event.actor, event.role, event.action, event.project, event.resource, event.version,
        event.outcome, event.input_sha256, event.detail,
        None if event.at is None else format_at(event.at),
    ]) + b"\n"


def decode_event(line: bytes) -> AuditEvent:
    actor, role, action, project, resource, version, outcome, input_sha256, detail, at = orjson.loads(line)
    return AuditEvent(actor=actor, role=role, action=action, project=project, resource=resource,
                      version=version, outcome=outcome, input_sha256=input_sha256, detail=detail,
                      at=None if at is None else datetime.fromisoformat(at))


def _read_available(sock: socket.socket) -> bytes:
    """Block for the first bytes, then take whatever else has already arrived."""
    first = sock.recv(_READ_SIZE)
    if not first:
        return b""
    parts = [first]
    while True:
        try:
            more = sock.recv(_READ_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
        if not more:
            break
        parts.append(more)
    return b"".join(parts)


def _commit(log: Any, lines: list[bytes]) -> bytes:
    """Write ``lines`` as one transaction; the answer line for it."""
    try:
        log.write([decode_event(line) for line in lines])
    except Exception as exc:  # the log has logged the cause; the server fails these requests
        return orjson.dumps({"n": len(lines), "error": type(exc).__name__}) + b"\n"
    return orjson.dumps({"n": len(lines)}) + b"\n"


def serve(sock: socket.socket, log: Any) -> None:
    """Write what arrives on ``sock`` until the other end closes it."""
    pending = b""
    while True:
        data = _read_available(sock)
        if not data:
            break
        lines = (pending + data).split(b"\n")
        pending = lines.pop()  # an incomplete last line waits for the rest
        for start in range(0, len(lines), MAX_BATCH):
            sock.sendall(_commit(log, lines[start:start + MAX_BATCH]))
    if pending:
        logger.error("the server closed the audit socket in the middle of an event; it was dropped "
                     "and its request was not answered")


def main(argv: list[str]) -> int:
    # Ctrl-C and a SIGTERM to the whole process group (systemd's default KillMode, a terminal)
    # are meant for the server: it finishes its requests, whose events this process must still
    # write, and then closes the socket, which is what ends this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s [audit writer] %(message)s")
    sock = socket.socket(fileno=int(argv[0]))
    try:
        header = b""
        while not header.endswith(b"\n"):
            chunk = sock.recv(1)
            if not chunk:
                return 0  # the server went away before it said anything
            header += chunk
        database_url = orjson.loads(header)["database_url"]

        from medmaas.audit.log import AuditLog
        from medmaas.registry.db import make_engine

        engine = make_engine(database_url)
        try:
            serve(sock, AuditLog(engine))
        finally:
            engine.dispose()
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
