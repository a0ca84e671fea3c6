"""The model registry on SQLite: versions, stages, aliases, projects, bundles and jobs."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from medmaas.exceptions import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
)
from medmaas.registry import Registry
from medmaas.registry.tables import Base
from medmaas.settings import Settings

# tests/ holds the checks shared with the PostgreSQL suite
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest_state import check_registry_lifecycle, make_bundle, register  # noqa: E402


def test_lifecycle_register_resolve_promote_rollback(registry: Registry, tmp_path: Path) -> None:
    check_registry_lifecycle(registry, tmp_path)


def test_open_from_settings_creates_a_wal_database_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with Registry.open(settings) as reg:
        assert reg.list_models() == []
        with reg.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    assert settings.sqlite_path.exists()
    assert settings.artifact_root.is_dir()
    # Opening again (a restart) finds the schema current and keeps the data.
    with Registry.open(settings) as reg:
        assert reg.list_models() == []


def test_migrations_create_exactly_the_orm_schema(registry: Registry) -> None:
    with registry.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_model_name_rule_is_enforced_with_the_rule_in_the_message(
    registry: Registry, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path)
    for bad in ("Sepsis", "sepsis risk", "-lead", "", "x" * 64, "a/b"):
        with pytest.raises(InvalidInputError, match=r"must match \^\[a-z0-9\]"):
            register(registry, bad, bundle)
    assert register(registry, "a" * 63, bundle).version == 1


def test_staging_is_exclusive_and_independent_of_production(
    registry: Registry, tmp_path: Path
) -> None:
    for i in range(3):
        register(registry, "m", make_bundle(tmp_path, f"b{i}", bytes([i])))
    registry.promote("m", 1, "production", actor="lead")
    registry.promote("m", 2, "staging", actor="lead")
    registry.promote("m", 3, "staging", actor="lead")
    stages = {v.version: v.stage for v in registry.list_versions("m")}
    assert stages == {1: "production", 2: "archived", 3: "staging"}
    info = registry.get_model("m")
    assert (info.production_version, info.staging_version) == (1, 3)
    # Staging to production moves it; the old production version is archived.
    registry.promote("m", "staging", "production", actor="lead")
    stages = {v.version: v.stage for v in registry.list_versions("m")}
    assert stages == {1: "archived", 2: "archived", 3: "production"}


def test_stage_rules(registry: Registry, tmp_path: Path) -> None:
    register(registry, "m", make_bundle(tmp_path))
    with pytest.raises(InvalidInputError, match="stage must be one of candidate, staging"):
        registry.promote("m", 1, "live", actor="lead")
    registry.promote("m", 1, "archived", actor="lead")
    with pytest.raises(ConflictError, match="'candidate' is only the stage"):
        registry.promote("m", 1, "candidate", actor="lead")
    with pytest.raises(NotFoundError, match="model 'm' has no version 2"):
        registry.promote("m", 2, "production", actor="lead")


def test_resolve_understands_numbers_latest_stages_and_aliases(
    registry: Registry, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError, match="model 'm' not found"):
        registry.resolve("m")
    for i in range(3):
        register(registry, "m", make_bundle(tmp_path, f"b{i}", bytes([i])))
    assert registry.resolve("m", "2").version == 2
    assert registry.resolve("m", 3).version == 3
    assert registry.resolve("m", "latest").version == 3
    assert registry.resolve("m", "candidate").version == 3
    with pytest.raises(NotFoundError, match="model 'm' has no version in stage 'production'"):
        registry.resolve("m", "production")
    with pytest.raises(NotFoundError, match="model 'm' has no version, stage or alias 'best'"):
        registry.resolve("m", "best")
    with pytest.raises(InvalidInputError, match="version reference"):
        registry.resolve("m", True)


def test_alias_rules(registry: Registry, tmp_path: Path) -> None:
    register(registry, "m", make_bundle(tmp_path, "b1", b"1"))
    register(registry, "m", make_bundle(tmp_path, "b2", b"2"))
    for reserved in ("7", "production", "staging", "latest"):
        with pytest.raises(InvalidInputError, match="must not be a number|is reserved"):
            registry.set_alias("m", reserved, 1, actor="lead")
    with pytest.raises(InvalidInputError, match="alias 'Champion'"):
        registry.set_alias("m", "Champion", 1, actor="lead")
    with pytest.raises(NotFoundError, match="has no version 9"):
        registry.set_alias("m", "champion", 9, actor="lead")

    registry.set_alias("m", "champion", 1, actor="lead")
    registry.set_alias("m", "challenger", "latest", actor="lead")
    assert [(a.alias, a.version) for a in registry.list_aliases("m")] == [
        ("challenger", 2),
        ("champion", 1),
    ]
    assert registry.resolve("m", "champion").aliases == ("champion",)
    registry.delete_alias("m", "champion")
    with pytest.raises(NotFoundError, match="no version, stage or alias 'champion'"):
        registry.resolve("m", "champion")
    with pytest.raises(NotFoundError, match="model 'm' has no alias 'champion'"):
        registry.delete_alias("m", "champion")


def test_projects_keep_models_apart(registry: Registry, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    register(registry, "m", bundle, project="icu")
    register(registry, "m", bundle, project="icu")
    register(registry, "m", bundle)
    assert registry.get_model("m", project="icu").latest_version == 2
    assert registry.get_model("m").latest_version == 1
    assert [m.project for m in registry.list_models("icu")] == ["icu"]
    assert registry.list_models("oncology") == []
    with pytest.raises(NotFoundError, match="model 'm' not found in project 'oncology'"):
        registry.resolve("m", project="oncology")


def test_a_model_keeps_its_kind_and_task(registry: Registry, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    register(registry, "m", bundle)
    with pytest.raises(ConflictError, match="is a tabular classification model"):
        register(registry, "m", bundle, kind="image")
    assert registry.get_model("m").version_count == 1


def test_failed_database_write_leaves_nothing_half_written(
    registry: Registry, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path)
    # Break the last table the registration writes to: the earlier rows must roll back too.
    with registry.engine.begin() as conn:
        conn.execute(text("ALTER TABLE stage_events RENAME TO stage_events_away"))
    with pytest.raises(OperationalError, match="stage_events"):
        register(registry, "m", bundle, project="new-project")
    with registry.engine.begin() as conn:
        conn.execute(text("ALTER TABLE stage_events_away RENAME TO stage_events"))
        for table in ("models", "model_versions", "stage_events"):
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == 0
        assert conn.execute(text("SELECT name FROM projects")).scalars().all() == ["default"]
    # The stored artifact is harmless and is simply reused by the retry.
    info = register(registry, "m", bundle, project="new-project")
    assert (info.version, info.project) == (1, "new-project")


def test_payloads_are_stored_as_json_and_nan_becomes_null(
    registry: Registry, tmp_path: Path
) -> None:
    info = register(
        registry,
        "m",
        make_bundle(tmp_path),
        metrics={"auroc": float("nan"), "n": 3, "per_site": {"a": 0.5}},
        headline=None,
    )
    assert info.metrics == {"auroc": None, "n": 3, "per_site": {"a": 0.5}}
    assert info.headline is None
    assert registry.resolve("m").metrics == info.metrics
    with pytest.raises(InvalidInputError, match="metrics must be JSON-serializable"):
        register(registry, "m", make_bundle(tmp_path, "b2"), metrics={"x": object()})
    with pytest.raises(InvalidInputError, match="headline ci"):
        register(
            registry,
            "m",
            make_bundle(tmp_path, "b3"),
            headline={"name": "a", "value": 1, "ci": [2, 1]},
        )


def test_bundle_path_checks_the_stored_hash(registry: Registry, tmp_path: Path) -> None:
    info = register(registry, "m", make_bundle(tmp_path, payload=b"weights"))
    path = registry.bundle_path(info)
    assert (path / "model.onnx").read_bytes() == b"weights"

    target = path / "model.onnx"
    os.chmod(target, 0o644)
    target.write_bytes(b"tampered")
    # A process that has not verified this bundle yet refuses it.
    with Registry(registry.database_url, registry.store.root) as fresh:
        with pytest.raises(IntegrityError, match="model 'm' version 1 failed its sha256 check"):
            fresh.bundle_path(info)
        os.chmod(target, 0o644)
        target.unlink()
        for child in path.iterdir():
            os.chmod(child, 0o644)
            child.unlink()
        path.rmdir()
        with pytest.raises(IntegrityError, match="missing from the artifact store"):
            fresh.bundle_path(info)


def test_concurrent_registrations_get_distinct_version_numbers(
    registry: Registry, tmp_path: Path
) -> None:
    bundles = [make_bundle(tmp_path, f"b{i}", bytes([i])) for i in range(8)]
    errors: list[BaseException] = []

    def work(bundle: Path) -> None:
        try:
            register(registry, "m", bundle)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in bundles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [v.version for v in registry.list_versions("m")] == list(range(1, 9))


def test_build_jobs_report_progress(registry: Registry) -> None:
    job = registry.create_job("build sepsis-risk", model_name="sepsis-risk")
    assert registry.get_job(job).status == "queued"
    running = registry.update_job(job, progress=0.25, message="fitting", status="running")
    assert (running.status, running.progress, running.message) == ("running", 0.25, "fitting")
    assert running.started_at is not None and running.finished_at is None
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(InvalidInputError, match="progress must be a number from 0 to 1"):
            registry.update_job(job, progress=bad)
    with pytest.raises(InvalidInputError, match="job status must be one of"):
        registry.update_job(job, status="done")
    done = registry.update_job(job, status="succeeded", message="registered version 1")
    assert (done.progress, done.finished_at is not None) == (1.0, True)
    with pytest.raises(ConflictError, match="already succeeded"):
        registry.update_job(job, progress=0.5)
    other = registry.create_job("build other")
    assert [j.id for j in registry.list_jobs()] == [other, job]
    assert [j.id for j in registry.list_jobs(status="succeeded")] == [job]
    with pytest.raises(NotFoundError, match="job 999 not found"):
        registry.update_job(999, progress=0.1)
