"""API keys on SQLite: format, keyed hashing, verification, cache, revocation, expiry."""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from medmaas.exceptions import AuthenticationError, InvalidInputError
from medmaas.registry import Registry
from medmaas.registry.tables import utcnow
from medmaas.security import KeyStore

# tests/ holds the checks shared with the PostgreSQL suite
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest_state import SERVER_SECRET, check_keys  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_create_verify_revoke_expire(registry: Registry) -> None:
    check_keys(registry)


def test_key_format_and_uniqueness(registry: Registry) -> None:
    keys = KeyStore(registry, SERVER_SECRET)
    plaintexts = {keys.create(f"k{i}", "developer", created_by="admin")[0] for i in range(20)}
    assert len(plaintexts) == 20
    for plaintext in plaintexts:
        prefix, key_id, secret = plaintext.split("_", 2)
        assert prefix == "mm"
        assert 8 <= len(key_id) <= 12 and key_id.isalnum()
        assert len(secret) >= 43  # 32 random bytes, url-safe base64


def test_keys_only_verify_under_the_server_secret_that_made_them(registry: Registry) -> None:
    plaintext, _ = KeyStore(registry, SERVER_SECRET).create("k", "admin", created_by="admin")
    other = KeyStore(registry, b"another-server-secret-0123456789")
    with pytest.raises(AuthenticationError, match="invalid API key"):
        other.verify(plaintext)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        KeyStore(registry, b"short")


@pytest.mark.parametrize("garbage", ["", "mm_", "Bearer abc", "mm_abc_def", "x" * 500, None, 42])
def test_malformed_keys_are_invalid(registry: Registry, garbage: object) -> None:
    with pytest.raises(AuthenticationError, match="^invalid API key$"):
        KeyStore(registry, SERVER_SECRET).verify(garbage)  # type: ignore[arg-type]


def test_revocation_takes_effect_at_once_in_this_process(registry: Registry) -> None:
    keys = KeyStore(registry, SERVER_SECRET)
    plaintext, info = keys.create("k", "clinician", created_by="admin")
    keys.verify(plaintext)  # now cached
    keys.revoke(info.key_id, actor="admin")
    with pytest.raises(AuthenticationError, match="API key revoked"):
        keys.verify(plaintext)
    # Revoking twice is harmless and keeps the first revocation time.
    assert keys.revoke(info.key_id, actor="admin").revoked_at == keys.get(info.key_id).revoked_at


def test_other_processes_see_a_revocation_within_the_cache_period(registry: Registry) -> None:
    clock = FakeClock()
    server = KeyStore(registry, SERVER_SECRET, cache_ttl_s=30.0, clock=clock)
    admin_cli = KeyStore(registry, SERVER_SECRET)  # stands for another process
    plaintext, info = admin_cli.create("k", "clinician", created_by="admin")
    server.verify(plaintext)
    admin_cli.revoke(info.key_id, actor="admin")
    clock.now += 10
    assert server.verify(plaintext).key_id == info.key_id  # still cached
    clock.now += 25
    with pytest.raises(AuthenticationError, match="API key revoked"):
        server.verify(plaintext)


def test_last_use_is_recorded(registry: Registry) -> None:
    keys = KeyStore(registry, SERVER_SECRET)
    plaintext, info = keys.create("k", "clinician", created_by="admin")
    assert info.last_used_at is None
    before = utcnow()
    keys.verify(plaintext)
    used = keys.get(info.key_id).last_used_at
    assert used is not None and used >= before


def test_listing_never_shows_secrets_and_filters_by_project(registry: Registry) -> None:
    keys = KeyStore(registry, SERVER_SECRET)
    p1, _ = keys.create("a", "clinician", created_by="admin", project="icu")
    keys.create("b", "auditor", created_by="admin")
    listed = keys.list()
    assert [k.name for k in listed] == ["a", "b"]
    assert [k.name for k in keys.list(project="icu")] == ["a"]
    assert all(p1.split("_", 2)[2] not in repr(k) for k in listed)
    assert listed[0].display == f"mm_{listed[0].key_id}_…"


def test_expiry_must_be_an_aware_future_time(registry: Registry) -> None:
    keys = KeyStore(registry, SERVER_SECRET)
    with pytest.raises(InvalidInputError, match="in the future"):
        keys.create("k", "admin", created_by="admin", expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        keys.create("k", "admin", created_by="admin", expires_at=datetime(2100, 1, 1))
    with pytest.raises(InvalidInputError, match="project name"):
        keys.create("k", "admin", created_by="admin", project="Bad Project")


def test_bootstrap_creates_exactly_one_admin_key_under_concurrency(registry: Registry) -> None:
    results: list[str | None] = []

    def work() -> None:
        results.append(KeyStore(registry, SERVER_SECRET).bootstrap_admin())

    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [r for r in results if r is not None]
    assert len(created) == 1 and len(results) == 5
    keys = KeyStore(registry, SERVER_SECRET)
    assert keys.verify(created[0]).role == "sysadmin"
    assert [k.role for k in keys.list()] == ["sysadmin"]
