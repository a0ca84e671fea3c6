"""What the app holds for its lifetime: settings, registry, keys, audit, loaded models."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medmaas.audit import AuditLog
    from medmaas.audit.writer import AuditWriter
    from medmaas.registry import Registry
    from medmaas.registry.datasets import DatasetStore
    from medmaas.runtime.cache import ModelCache
    from medmaas.security.keys import KeyStore
    from medmaas.security.ratelimit import RateLimiter
    from medmaas.settings import Settings


@dataclass
class AppState:
    settings: Settings
    registry: Registry
    keys: KeyStore
    audit: AuditLog
    #: Group commits for the serving path's audit events (started with the app).
    writer: AuditWriter
    models: ModelCache
    #: Per-key token buckets, checked right after authentication.
    limiter: RateLimiter
    started_at: float = field(default_factory=time.monotonic)
    ready: bool = False

    @cached_property
    def server_secret(self) -> bytes:
        """Read once: ``Settings.resolved_secret`` reads a file on every call."""
        return self.settings.resolved_secret()

    @cached_property
    def datasets(self) -> DatasetStore:
        """Opened on first use: the key file is created (outside production) only when needed."""
        from medmaas.registry.datasets import DatasetStore

        return DatasetStore(self.registry, self.settings.dataset_keyring())

    def close(self) -> None:
        self.writer.close()
        self.models.close()
        # Last: the writer's final batch goes through it. Closing the pool lets SQLite
        # checkpoint its WAL into the database file instead of leaving it for the next start.
        self.registry.close()
