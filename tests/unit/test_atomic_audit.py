"""A change and its audit event in one transaction: both land or neither does; and a built-in
model whose build stopped between registering and promoting it is finished at the next start."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from medmaas.audit import AuditEvent, AuditLog
from medmaas.registry import Registry
from medmaas.security import KeyStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest_state import SERVER_SECRET, make_bundle, register  # noqa: E402


def _event(version: int, stage: str) -> AuditEvent:
    return AuditEvent(actor="k1", role="admin", action="model.promote", resource="sepsis-risk",
                      version=version, detail={"stage": stage})


def test_a_promotion_and_its_event_commit_together(registry: Registry, tmp_path: Path) -> None:
    log = AuditLog(registry)
    log.append(AuditEvent(actor="k1", action="key.create", resource="k2"))
    register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"))
    info = registry.promote("sepsis-risk", 1, "production", actor="k1",
                            record=lambda conn, v: log.append_in(conn, [_event(v.version, v.stage)]))
    assert info.stage == "production"
    log.append(AuditEvent(actor="k1", action="key.revoke", resource="k2"))
    events = log.tail(10)
    assert [e.action for e in events] == ["key.create", "model.promote", "key.revoke"]
    assert events[1].detail == {"stage": "production"} and events[1].version == 1
    assert log.verify().ok


def test_when_the_event_cannot_be_written_the_promotion_is_undone(registry: Registry, tmp_path: Path) -> None:
    log = AuditLog(registry)
    register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"))

    def fail(conn: Any, _info: Any) -> None:
        log.append_in(conn, [_event(1, "production")])
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        registry.promote("sepsis-risk", 1, "production", actor="k1", record=fail)
    assert registry.resolve("sepsis-risk", 1).stage == "candidate"
    assert [h.to_stage for h in registry.stage_history("sepsis-risk")] == ["candidate"]
    assert log.tail(10) == []


def test_a_version_and_an_alias_can_carry_their_events(registry: Registry, tmp_path: Path) -> None:
    log = AuditLog(registry)
    info = register(registry, "sepsis-risk", make_bundle(tmp_path, "b1", b"one"),
                    record=lambda conn, v: log.append_in(conn, [AuditEvent(
                        actor="dev", action="model.register", resource=v.model_name, version=v.version)]))
    registry.set_alias("sepsis-risk", "champion", info.version, actor="k1",
                       record=lambda conn, a: log.append_in(conn, [AuditEvent(
                           actor="k1", action="model.alias", resource=a.model_name, version=a.version,
                           detail={"alias": a.alias})]))
    assert [(e.action, e.version) for e in log.tail(10)] == [("model.register", 1), ("model.alias", 1)]
    assert log.verify().ok


def test_the_first_key_and_its_event_commit_together(registry: Registry) -> None:
    log = AuditLog(registry)
    keys = KeyStore(registry, SERVER_SECRET)

    def fail(conn: Any, _info: Any) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        keys.bootstrap_admin(record=fail)
    assert keys.list() == [] and log.tail(10) == []  # no key without its event: the next start tries again
    plaintext = keys.bootstrap_admin(record=log.recorder(lambda created: AuditEvent(
        actor="cli", role="sysadmin", action="key.create", resource=created.key_id)))
    assert plaintext is not None
    (event,) = log.tail(10)
    assert (event.action, event.resource) == ("key.create", keys.verify(plaintext).key_id)


def test_a_builtin_left_in_candidate_is_promoted_at_the_next_start(registry: Registry, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from medmaas.builtin import build

    name = build.BUILTINS[0].name
    # What a build killed between registering and promoting leaves.
    register(registry, name, make_bundle(tmp_path, "b1", b"one"), created_by=build.ACTOR)
    assert build.unfinished_builtins(registry) == [(build.BUILTINS[0], 1)]
    monkeypatch.setattr(build, "missing_builtins", lambda _registry: [])  # build nothing
    log = AuditLog(registry)
    assert build.build_missing(registry, log) == []
    assert registry.resolve(name).stage == "production"
    assert build.unfinished_builtins(registry) == []
    (event,) = log.tail(10)
    assert (event.action, event.resource, event.version) == ("model.register", name, 1)
    assert event.detail == {"stage": "production", "builtin": True, "resumed": True}
    assert log.verify().ok
