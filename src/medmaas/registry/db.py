"""Engines and migrations: SQLite (WAL) by default, PostgreSQL by URL.

Everything that opens a database goes through :func:`make_engine`, so every connection gets the
same guarantees: on SQLite, WAL (readers never block the writer), foreign keys enforced, a busy
timeout instead of instant "database is locked" errors, and transactions that SQLAlchemy begins
itself so a write transaction can ask for ``BEGIN IMMEDIATE`` (take the write lock up front; a
deferred transaction that upgrades to a writer can fail under concurrency in ways a busy
timeout cannot fix).

Migrations ship inside the package and run from code: no ``alembic.ini`` is needed at runtime,
and the package works installed non-editable.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 30_000
# Execution option read by the SQLite "begin" hook; write paths set it to "IMMEDIATE".
BEGIN_MODE_OPTION = "medmaas_sqlite_begin"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with medmaas's connection settings applied.

    >>> make_engine("sqlite://").dialect.name
    'sqlite'
    """
    parsed = make_url(url)
    kwargs.setdefault("json_serializer", json_text)
    if parsed.get_backend_name() == "sqlite":
        return _make_sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def json_text(value: Any) -> str:
    """How JSON columns are written: orjson (several times faster than the standard library,
    which matters for the audit log's thousands of rows a second); values orjson refuses go to
    the standard library, so errors read the same as before."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def _make_sqlite_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        # One shared connection, or every pooled connection would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    elif parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand BEGIN to SQLAlchemy (see the module docstring); pysqlite would otherwise
        # start transactions lazily and only for DML.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed audit event survives power loss, not just a process crash.
            cursor.execute("PRAGMA synchronous = FULL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown SQLite BEGIN mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def write_engine(engine: Engine) -> Engine:
    """The same engine, but its transactions take the write lock as they begin.

    On SQLite this is ``BEGIN IMMEDIATE``; other databases ignore the option and rely on
    row locks or :func:`advisory_lock`.
    """
    return engine.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})


def advisory_lock(conn: Connection, name: str) -> None:
    """Serialize transactions named ``name`` across processes, until this transaction ends.

    PostgreSQL gets a transaction-scoped advisory lock. SQLite needs nothing: a transaction
    begun through :func:`write_engine` already holds the database's single write lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": advisory_key(name)})


def advisory_key(name: str) -> int:
    """The 64-bit PostgreSQL advisory-lock key for a lock name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` with the migrations shipped in this package.

    Safe to call from several processes starting at once: the upgrade runs in one write
    transaction holding a migration lock, so the second process finds the schema current.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Escape '%' because Config interpolates values (URL-encoded passwords contain it).
    config.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    with write_engine(engine).begin() as conn:
        advisory_lock(conn, "medmaas.migrate")
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    logger.debug("database schema at %s", revision)

