"""Builders and shared checks for the state layer (registry, audit log, API keys).

The same checks run on SQLite in ``tests/unit`` and on a real PostgreSQL server in
``tests/integration/test_postgres.py``, so both databases are held to one behaviour.
Tests import this module after putting ``tests/`` on ``sys.path``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from medmaas.audit import AuditEvent, AuditLog, hash_input
from medmaas.exceptions import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
)
from medmaas.registry import Registry, VersionInfo
from medmaas.registry.tables import utcnow
from medmaas.security import KeyStore

SERVER_SECRET = b"test-server-secret-0123456789abcdef"


def make_bundle(root: Path, name: str = "bundle", payload: bytes = b"onnx", **extra: bytes) -> Path:
    """A small bundle directory: model.onnx, spec.json and any ``extra`` files."""
    bundle = root / name
    bundle.mkdir(parents=True)
    (bundle / "model.onnx").write_bytes(payload)
    (bundle / "spec.json").write_text('{"kind": "tabular"}')
    for filename, data in extra.items():
        (bundle / filename).write_bytes(data)
    return bundle


def register(registry: Registry, name: str, bundle: Path, **overrides: Any) -> VersionInfo:
    """Register a version with plausible defaults for everything not under test."""
    args: dict[str, Any] = {
        "kind": "tabular",
        "task": "classification",
        "created_by": "dev@example.org",
        "metrics": {"auroc": 0.91, "brier": 0.08},
        "headline": {"name": "auroc", "value": 0.91, "ci": [0.88, 0.94]},
        "spec": {"inputs": [{"name": "age", "type": "number"}]},
        "card": {"intended_use": "sepsis risk in adult ICU patients"},
    }
    args.update(overrides)
    return registry.register_version(name, bundle, **args)


def check_registry_lifecycle(registry: Registry, tmp_path: Path) -> None:
    """Register, resolve, promote with production exclusivity, roll back, read the history."""
    v1 = register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"))
    v2 = register(registry, "sepsis-risk", make_bundle(tmp_path, "b2", b"two"))
    assert (v1.version, v2.version) == (1, 2)
    assert v1.stage == v2.stage == "candidate"
    assert v1.bundle_sha256 != v2.bundle_sha256
    # No production version yet: the default is the latest.
    assert registry.resolve("sepsis-risk").version == 2

    registry.promote("sepsis-risk", 1, "production", actor="lead", reason="validated")
    assert registry.resolve("sepsis-risk").version == 1
    assert registry.resolve("sepsis-risk", "production").version == 1
    registry.promote("sepsis-risk", 2, "production", actor="lead")
    stages = {v.version: v.stage for v in registry.list_versions("sepsis-risk")}
    assert stages == {1: "archived", 2: "production"}

    # Rollback: an archived version may serve again, and replaces the current one.
    registry.promote("sepsis-risk", 1, "production", actor="lead", reason="rollback")
    stages = {v.version: v.stage for v in registry.list_versions("sepsis-risk")}
    assert stages == {1: "production", 2: "archived"}
    # Idempotent: promoting to the current stage records nothing new.
    before = len(registry.stage_history("sepsis-risk"))
    assert registry.promote("sepsis-risk", 1, "production", actor="lead").stage == "production"
    history = registry.stage_history("sepsis-risk")
    assert len(history) == before
    assert [(e.version, e.from_stage, e.to_stage) for e in history] == [
        (1, None, "candidate"),
        (2, None, "candidate"),
        (1, "candidate", "production"),
        (1, "production", "archived"),
        (2, "candidate", "production"),
        (2, "production", "archived"),
        (1, "archived", "production"),
    ]
    assert history[-1].reason == "rollback"

    [model] = registry.list_models()
    assert (model.name, model.latest_version, model.production_version) == ("sepsis-risk", 2, 1)
    assert model.headline is not None and model.headline.ci == (0.88, 0.94)

    registry.set_alias("sepsis-risk", "champion", 2, actor="lead")
    assert registry.resolve("sepsis-risk", "champion").version == 2
    registry.set_alias("sepsis-risk", "champion", 1, actor="lead")
    assert registry.resolve("sepsis-risk", "champion").aliases == ("champion",)

    with pytest.raises(NotFoundError, match="model 'sepsis-risk' has no version 7"):
        registry.resolve("sepsis-risk", 7)
    with pytest.raises(NotFoundError, match="model 'nope' not found"):
        registry.get_model("nope")
    assert registry.bundle_path(v2).joinpath("model.onnx").read_bytes() == b"two"


def fresh_chain(log: AuditLog, registry: Registry, n: int = 5) -> None:
    """Empty the audit table and write ``n`` events (tamper tests each need a clean chain)."""
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    log.append_many(
        AuditEvent(
            actor=f"key{i}",
            role="clinician",
            action="model.predict",
            resource="sepsis-risk",
            version=1,
            input_sha256=hash_input({"age": 60 + i}),
            detail={"rows": i},
        )
        for i in range(n)
    )
    assert log.verify().ok


def tamper(registry: Registry, *statements: str) -> None:
    with registry.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def check_audit_tamper_detection(registry: Registry) -> None:
    """An edited, deleted or reordered event is found, and the report names where."""
    log = AuditLog(registry)

    fresh_chain(log, registry)
    tamper(registry, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    report = log.verify()
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 3, 2)
    assert "edited" in report.reason

    fresh_chain(log, registry)
    tamper(registry, "UPDATE audit_events SET outcome = 'denied' WHERE seq = 2")
    assert log.verify().first_bad_seq == 2

    fresh_chain(log, registry)
    tamper(registry, "DELETE FROM audit_events WHERE seq = 2")
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "deleted" in report.reason

    fresh_chain(log, registry)
    tamper(
        registry,
        "UPDATE audit_events SET seq = -1 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = -1",
    )
    report = log.verify()
    assert (report.ok, report.first_bad_seq) == (False, 2)

    # Removing the newest events is invisible to the chain alone, but not to an anchor.
    fresh_chain(log, registry)
    anchor = log.head()
    assert anchor is not None and anchor[0] == 5
    tamper(registry, "DELETE FROM audit_events WHERE seq = 5")
    assert log.verify().ok
    report = log.verify(anchor=anchor)
    assert (report.ok, report.first_bad_seq) == (False, 5)


def check_concurrent_appends(registry: Registry, threads: int = 6, per_thread: int = 15) -> None:
    """Appends from many threads (each with its own AuditLog) form one unbroken chain."""
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        log = AuditLog(registry)
        try:
            for i in range(per_thread):
                if i % 5 == 0:
                    log.append_many(
                        [AuditEvent(actor=f"w{worker}", action="model.predict") for _ in range(3)]
                    )
                else:
                    log.append(AuditEvent(actor=f"w{worker}", action="model.predict"))
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert errors == []
    report = AuditLog(registry).verify()
    expected = threads * (per_thread + 2 * (per_thread // 5))
    assert (report.ok, report.checked, report.last_seq) == (True, expected, expected)


def check_keys(registry: Registry) -> None:
    """Create, verify, reject a wrong secret, revoke, expire; plaintext is never stored."""
    keys = KeyStore(registry, SERVER_SECRET)
    admin = keys.bootstrap_admin()
    assert admin is not None and keys.verify(admin).role == "sysadmin"
    assert keys.bootstrap_admin() is None  # only on the very first start
    plaintext, info = keys.create("ward app", "clinician", created_by="admin", project="ward-7")
    assert plaintext.startswith(f"mm_{info.key_id}_")
    principal = keys.verify(plaintext)
    assert (principal.role, principal.project, principal.name) == (
        "clinician",
        "ward-7",
        "ward app",
    )
    assert keys.verify(plaintext) == principal  # cached path gives the same answer

    with registry.engine.connect() as conn:
        stored = conn.execute(text("SELECT hashed_secret FROM api_keys")).scalars().all()
    secret = plaintext.split("_", 2)[2]
    assert all(secret not in value for value in stored)

    wrong = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError, match="invalid API key"):
        keys.verify(wrong)
    with pytest.raises(AuthenticationError, match="invalid API key"):
        keys.verify("mm_unknown12_" + "x" * 43)

    keys.revoke(info.key_id, actor="admin")
    with pytest.raises(AuthenticationError, match="API key revoked"):
        keys.verify(plaintext)
    assert keys.get(info.key_id).revoked_at is not None

    soon = utcnow() + timedelta(milliseconds=300)
    short, _ = keys.create("temp", "auditor", created_by="admin", expires_at=soon)
    assert keys.verify(short).role == "auditor"
    with pytest.raises(InvalidInputError, match="role must be one of sysadmin, admin, developer"):
        keys.create("x", "superuser", created_by="admin")
    with pytest.raises(NotFoundError, match="API key 'nosuchkey0' not found"):
        keys.revoke("nosuchkey0", actor="admin")
    time.sleep(max(0.0, (soon - utcnow()).total_seconds()) + 0.05)
    with pytest.raises(AuthenticationError, match="API key expired"):
        keys.verify(short)  # cached, but expiry is still checked


_APPEND_SCRIPT = """
import pathlib, sys, time
from medmaas.audit import AuditEvent, AuditLog
from medmaas.registry.db import make_engine
url, actor, count, gate = sys.argv[1], sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])
log = AuditLog(make_engine(url))
(gate / f"ready-{actor}").touch()
while not (gate / "go").exists():  # start together, so the appends really interleave
    time.sleep(0.005)
for i in range(count):
    log.append(AuditEvent(actor=actor, action="model.predict"))
"""


def check_appends_from_processes(
    registry: Registry, gate: Path, processes: int = 3, each: int = 15
) -> None:
    """Separate processes share no lock but the database's; the chain must still not fork."""
    with registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events"))
    url = registry.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    gate.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPEND_SCRIPT, url, f"p{i}", str(each), str(gate)], env=env
        )
        for i in range(processes)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(list(gate.glob("ready-*"))) < processes and time.monotonic() < deadline:
            if any(proc.poll() not in (None, 0) for proc in procs):
                break
            time.sleep(0.01)
        (gate / "go").touch()
        assert [proc.wait(timeout=60) for proc in procs] == [0] * processes
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    report = AuditLog(registry).verify()
    assert (report.ok, report.checked) == (True, processes * each)
