"""The append-only, hash-chained audit log over the ``audit_events`` table.

Appends are serialised so the chain never forks: a lock per database within the process, and
across processes the database's own write lock (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL
advisory lock held until commit). The primary key on ``seq`` refuses a fork even if
something bypasses both: two events cannot take the same place. The log fails closed: if an event cannot be written, ``append``
raises and the caller's request must fail with it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection, Engine, Row, Table, Text, insert, select, type_coerce
from sqlalchemy.exc import DBAPIError

from medmaas.audit.events import (
    GENESIS_HASH,
    AuditEvent,
    StoredAuditEvent,
    VerifyReport,
    chain_hash,
    format_at,
)
from medmaas.exceptions import IntegrityError, InvalidInputError
from medmaas.registry.db import advisory_key
from medmaas.registry.tables import AuditEventRow, utcnow

logger = logging.getLogger(__name__)

T = TypeVar("T")
_TABLE = cast(Table, AuditEventRow.__table__)
_LOCK_NAME = "medmaas.audit"
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


class _HasEngine(Protocol):
    engine: Engine


def _process_lock(engine: Engine) -> threading.Lock:
    # One lock per database, shared by every AuditLog in this process that writes to it.
    key = engine.url.render_as_string(hide_password=True)
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class AuditLog:
    """Append events, read the tail, verify the chain.

    ``source`` is a :class:`~medmaas.registry.Registry` or an engine made by
    :func:`medmaas.registry.db.make_engine` (its SQLite settings are what make appends safe).

    >>> log = AuditLog(registry)  # doctest: +SKIP
    >>> log.append(AuditEvent(actor="k1", action="model.promote", resource="sepsis-risk"))  # doctest: +SKIP
    """

    def __init__(self, source: _HasEngine | Engine) -> None:
        self.engine: Engine = source if isinstance(source, Engine) else source.engine
        self._lock = _process_lock(self.engine)

    def append(self, event: AuditEvent) -> StoredAuditEvent:
        """Write one event and return it as stored; raises if it could not be written."""
        return self.append_many([event])[0]

    def append_many(self, events: Iterable[AuditEvent]) -> list[StoredAuditEvent]:
        """Write a batch in one transaction (one fsync): the serving path's group commit.

        All or nothing: either every event of the batch is in the chain or none is.
        """
        return [StoredAuditEvent(*row) for row in self.write(events)]

    def write(self, events: Iterable[AuditEvent]) -> list[tuple[Any, ...]]:
        """:meth:`append_many` without building the returned objects: rows as tuples in
        :class:`StoredAuditEvent` field order. The group-commit writer uses this."""
        batch = _checked(events)
        if not batch:
            return []
        try:
            with self._lock, _DriverTransaction(self.engine) as cursor:
                rows = _chain(cursor, batch)
        except Exception as exc:
            logger.error("audit write failed; the request that caused it must fail", exc_info=True)
            dbapi_error = self.engine.dialect.loaded_dbapi.Error
            if isinstance(exc, dbapi_error):  # the same exception types as every other query
                raise DBAPIError.instance(None, None, exc, dbapi_error) from exc
            raise
        return rows

    def append_in(self, connection: Connection, events: Iterable[AuditEvent]) -> list[StoredAuditEvent]:
        """Append within the caller's open write transaction on this log's database: the events
        commit, or roll back, with whatever else that transaction changed. A change and its
        event then never land one without the other, whenever the process dies.

        On SQLite the transaction must hold the write lock from its start (a registry write
        session: ``BEGIN IMMEDIATE``), which is also what serialises it against other appends;
        PostgreSQL takes the log's advisory lock here, until the transaction ends.

        >>> with registry.session(write=True) as s:  # doctest: +SKIP
        ...     log.append_in(s.connection(), [event])
        """
        batch = _checked(events)
        if not batch:
            return []
        # Not the process lock: another thread may hold it while waiting for the write lock
        # this transaction holds. The database's lock alone keeps the chain from forking.
        driver = connection.connection.driver_connection
        if driver is None:
            raise InvalidInputError("append_in needs a connection in an open transaction; this one is closed")
        appender = _Appender(connection.dialect, driver.cursor())
        try:
            appender.lock()
            return [StoredAuditEvent(*row) for row in _chain(appender, batch)]
        finally:
            appender.cursor.close()

    def recorder(self, event_for: Callable[[T], AuditEvent]) -> Callable[[Connection, T], object]:
        """A ``record=`` hook for a registry or key-store change: ``event_for(what changed)`` is
        appended in the change's own transaction (:meth:`append_in`).

        >>> registry.promote("sepsis-risk", 3, "production", actor="k1",  # doctest: +SKIP
        ...                  record=log.recorder(lambda v: AuditEvent(actor="k1", action="model.promote")))
        """
        return lambda connection, changed: self.append_in(connection, [event_for(changed)])

    def tail(
        self,
        n: int = 50,
        action: str | None = None,
        actor: str | None = None,
        project: str | None = None,
        before: int | None = None,
    ) -> list[StoredAuditEvent]:
        """The last ``n`` matching events, oldest first (like ``tail``); with ``before``, the
        last ``n`` older than event ``before``, to page back through the trail."""
        query = select(_TABLE).order_by(_TABLE.c.seq.desc()).limit(max(0, min(n, 10_000)))
        if before is not None:
            query = query.where(_TABLE.c.seq < before)
        if action is not None:
            query = query.where(_TABLE.c.action == action)
        if actor is not None:
            query = query.where(_TABLE.c.actor == actor)
        if project is not None:
            query = query.where(_TABLE.c.project == project)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_stored(row) for row in reversed(rows)]

    def head(self) -> tuple[int, str] | None:
        """``(seq, hash)`` of the newest event, to record outside the database as an anchor."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc()).limit(1)
            ).first()
        return (row.seq, row.hash) if row else None

    def verify(self, anchor: tuple[int, str] | None = None) -> VerifyReport:
        """Recompute the whole chain; the report names the first event that does not fit.

        Detects an edited event (its hash no longer matches), a deleted or inserted one (a gap
        in ``seq`` or a broken ``prev_hash`` link) and reordered ones (``seq`` is hashed). With
        ``anchor`` (an earlier :meth:`head`), also detects events removed from the end.
        """
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        query = select(
            *[c for c in _TABLE.c if c.name != "detail"], type_coerce(_TABLE.c.detail, Text)
        ).order_by(_TABLE.c.seq)
        anchor_seen = False
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=1000).execute(query)
            try:
                for row in result:
                    problem = _check_row(row, expected_seq, prev_hash)
                    if problem is not None:
                        return VerifyReport(False, checked, row.seq, problem, row.seq, row.hash)
                    if anchor is not None and row.seq == anchor[0]:
                        if row.hash != anchor[1]:
                            reason = f"event {row.seq} does not match the anchor recorded for it"
                            return VerifyReport(False, checked, row.seq, reason, row.seq, row.hash)
                        anchor_seen = True
                    prev_hash, expected_seq, checked = row.hash, expected_seq + 1, checked + 1
            finally:
                # Stopping early must close the server-side cursor that streams the rows.
                result.close()
        last_seq = expected_seq - 1 if checked else None
        last_hash = prev_hash if checked else None
        if anchor is not None and not anchor_seen:
            reason = (
                f"the log ends at event {last_seq or 0}, before the anchored event {anchor[0]}: "
                "events were removed from the end"
            )
            return VerifyReport(False, checked, (last_seq or 0) + 1, reason, last_seq, last_hash)
        return VerifyReport(True, checked, None, f"{checked} events verified", last_seq, last_hash)


def _check_row(row: Row[Any, *tuple[Any, ...]], expected_seq: int, prev_hash: str) -> str | None:
    if row.seq != expected_seq:
        return (
            f"expected event {expected_seq} but found {row.seq}: an event was deleted or renumbered"
        )
    if row.prev_hash != prev_hash:
        return (
            f"event {row.seq} does not link to the event before it: "
            "an event was deleted, inserted or reordered"
        )
    try:
        detail = json.loads(row.detail) if isinstance(row.detail, str) else row.detail
        fields = {
            "seq": row.seq,
            "at": format_at(row.at),
            "actor": row.actor,
            "role": row.role,
            "action": row.action,
            "project": row.project,
            "resource": row.resource,
            "version": row.version,
            "outcome": row.outcome,
            "input_sha256": row.input_sha256,
            "detail": detail,
        }
        digest = chain_hash(row.prev_hash, fields)
    except (TypeError, ValueError, AttributeError) as exc:
        return f"event {row.seq} cannot be read back ({exc}): it was edited"
    if digest != row.hash:
        return f"event {row.seq} does not match its hash: it was edited"
    return None


def _checked(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    batch = list(events)
    for event in batch:
        if not isinstance(event, AuditEvent):
            raise InvalidInputError(f"expected AuditEvent; got {type(event).__name__}")
    return batch


def _chain(appender: _Appender, batch: list[AuditEvent]) -> list[tuple[Any, ...]]:
    """Link ``batch`` to the head of the chain and insert it; the rows as stored."""
    seq, prev_hash = appender.last()
    now = utcnow()
    rows: list[tuple[Any, ...]] = []
    for event in batch:
        seq += 1
        at = event.at or now
        digest = chain_hash(prev_hash, event.hashed_fields(seq, at))
        rows.append((seq, at, event.actor, event.role, event.action, event.project,
                     event.resource, event.version, event.outcome,
                     event.input_sha256, event.detail, prev_hash, digest))
        prev_hash = digest
    appender.insert(rows)
    return rows


class _Appender:
    """Reads the head of the chain and inserts rows through one driver cursor, in whatever
    transaction that cursor's connection is in."""

    CHUNK = 500  # rows per INSERT: 6,500 parameters, far below SQLite's limit of 32,766

    def __init__(self, dialect: Any, cursor: Any) -> None:
        self.dialect = dialect
        self.sql = _statements_for(dialect)
        self.cursor = cursor

    def lock(self) -> None:
        """PostgreSQL: the log's advisory lock, until the transaction ends. (SQLite's single
        write lock is taken by ``BEGIN IMMEDIATE``.)"""
        if self.dialect.name == "postgresql":
            self.cursor.execute(self.sql.lock, (advisory_key(_LOCK_NAME),))

    def last(self) -> tuple[int, str]:
        self.cursor.execute(self.sql.last)
        row = self.cursor.fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        bound = [self.sql.bind(row) for row in rows]
        for start in range(0, len(bound), self.CHUNK):
            chunk = bound[start:start + self.CHUNK]
            self.cursor.execute(self.sql.insert(len(chunk)), tuple(v for b in chunk for v in b))


class _DriverTransaction(_Appender):
    """One append transaction spoken directly to the database driver.

    Appends are the hottest write in a serving process (one per prediction, group-committed)
    and the whole transaction is four statements: take the write lock, read the last event,
    insert the batch as one multi-row ``INSERT``, commit. Through SQLAlchemy's Core each
    statement costs far more Python than the database work (measured: 1.4 ms against 0.5 ms
    for an 8-event commit), and every request waits for the commit its event is in: fewer,
    cheaper calls are what keep the group commit short. Column values still go through each
    column type's own bind
    processing, so what is stored is exactly what the ORM would store.
    """

    def __init__(self, engine: Engine) -> None:
        self.raw = engine.raw_connection()
        super().__init__(engine.dialect, None)

    def __enter__(self) -> _DriverTransaction:
        self.cursor = self.raw.cursor()
        if self.dialect.name == "sqlite":
            self.cursor.execute("BEGIN IMMEDIATE")  # the single write lock, taken up front
        self.lock()
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        try:
            if kind is None:
                self.raw.commit()
            else:
                self.raw.rollback()
        finally:
            self.cursor.close()
            self.raw.close()  # back to the pool


class _Statements:
    """The SQL of an append for one dialect, built once."""

    def __init__(self, dialect: Any) -> None:
        marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(dialect.paramstyle)
        if marker is None:
            raise IntegrityError(f"the audit log does not support the {dialect.name} driver's "
                                 f"parameter style {dialect.paramstyle!r}")
        self.names = [c.name for c in _TABLE.c]
        self.order = [_FIELDS.index(name) for name in self.names]
        self.processors = [(i, process) for i, name in enumerate(self.names)
                           if (process := _TABLE.c[name].type._cached_bind_processor(dialect))]
        prefix = str(insert(_TABLE).compile(dialect=dialect)).split(" VALUES ")[0]
        self._prefix = prefix + " VALUES "
        self._group = "(" + ", ".join([marker] * len(self.names)) + ")"
        self._inserts: dict[int, str] = {}
        self.last = str(select(_TABLE.c.seq, _TABLE.c.hash).order_by(_TABLE.c.seq.desc())
                        .limit(1).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        self.lock = f"SELECT pg_advisory_xact_lock({marker})"

    def bind(self, row: tuple[Any, ...]) -> list[Any]:
        values = [row[i] for i in self.order]
        for i, process in self.processors:
            values[i] = process(values[i])
        return values

    def insert(self, n: int) -> str:
        sql = self._inserts.get(n)
        if sql is None:
            sql = self._inserts[n] = self._prefix + ", ".join([self._group] * n)
        return sql


_FIELDS = list(StoredAuditEvent.__slots__)
_statements: dict[str, _Statements] = {}


def _statements_for(dialect: Any) -> _Statements:
    key = f"{dialect.name}+{dialect.driver}"
    if key not in _statements:
        _statements[key] = _Statements(dialect)
    return _statements[key]


def _stored(row: Row[Any]) -> StoredAuditEvent:
    values = row._mapping
    return StoredAuditEvent(**{name: values[name] for name in StoredAuditEvent.__slots__})
