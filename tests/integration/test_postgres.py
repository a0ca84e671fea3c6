"""The state layer on a real PostgreSQL server: the same checks the unit tests run on SQLite.

Start a throwaway server and point the tests at it::

    export MEDMAAS_TEST_POSTGRES_URL="$(scripts/postgres.sh | tail -n1)"
    pytest -m integration tests/integration/test_postgres.py

Each test gets its own schema (dropped afterwards), so runs never see each other's rows.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from medmaas.registry import Registry
from medmaas.registry.db import make_engine
from medmaas.registry.tables import Base

# tests/ holds the checks shared with the PostgreSQL suite
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest_state import (  # noqa: E402
    check_appends_from_processes,
    check_audit_tamper_detection,
    check_concurrent_appends,
    check_keys,
    check_registry_lifecycle,
    make_bundle,
    register,
)

pytestmark = pytest.mark.integration

ENV = "MEDMAAS_TEST_POSTGRES_URL"


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"{ENV} is not set; start a server with scripts/postgres.sh")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def registry(pg_url: str, tmp_path: Path) -> Iterator[Registry]:
    reg = Registry(pg_url, tmp_path / "artifacts")
    reg.migrate()
    yield reg
    reg.close()


def test_registry_lifecycle(registry: Registry, tmp_path: Path) -> None:
    assert registry.engine.dialect.name == "postgresql"
    check_registry_lifecycle(registry, tmp_path)


def test_audit_tamper_detection(registry: Registry) -> None:
    check_audit_tamper_detection(registry)


def test_concurrent_audit_appends(registry: Registry) -> None:
    check_concurrent_appends(registry)


def test_audit_appends_from_processes(registry: Registry, tmp_path: Path) -> None:
    check_appends_from_processes(registry, tmp_path / "gate")


def test_keys(registry: Registry) -> None:
    check_keys(registry)


def test_migrations_create_exactly_the_orm_schema(registry: Registry) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with registry.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_concurrent_migrations_and_registrations(pg_url: str, tmp_path: Path) -> None:
    registries = [Registry(pg_url, tmp_path / "artifacts") for _ in range(4)]
    bundles = [make_bundle(tmp_path, f"b{i}", bytes([i])) for i in range(8)]
    errors: list[BaseException] = []

    def start(reg: Registry) -> None:
        try:
            reg.migrate()  # several services starting against one fresh database
        except BaseException as exc:
            errors.append(exc)

    def work(reg: Registry, bundle: Path) -> None:
        try:
            register(reg, "m", bundle)
        except BaseException as exc:
            errors.append(exc)

    for target, args in ((start, [(r,) for r in registries]), (work, None)):
        if args is None:
            args = [(registries[i % 4], b) for i, b in enumerate(bundles)]
        threads = [threading.Thread(target=target, args=a) for a in args]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    try:
        assert errors == []
        assert [v.version for v in registries[0].list_versions("m")] == list(range(1, 9))
    finally:
        for reg in registries:
            reg.close()


def test_production_exclusivity_is_enforced_by_the_database(
    registry: Registry, tmp_path: Path
) -> None:
    register(registry, "m", make_bundle(tmp_path, "b1", b"1"))
    register(registry, "m", make_bundle(tmp_path, "b2", b"2"))
    registry.promote("m", 1, "production", actor="lead")
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), registry.engine.begin() as conn:
        conn.execute(text("UPDATE model_versions SET stage = 'production' WHERE version = 2"))
