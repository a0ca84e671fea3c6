"""What the app holds for its lifetime: settings, registry, keys, audit, loaded models."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from medmaas.runtime.loaded import LoadedModel, load_bundle

if TYPE_CHECKING:
    from medmaas.audit import AuditLog
    from medmaas.registry import Registry, VersionInfo
    from medmaas.security.keys import KeyStore
    from medmaas.settings import Settings

RESOLVE_TTL_S = 2.0


@dataclass
class ModelCache:
    """Loaded versions by (project, name, version), and short-lived resolutions of a reference
    ("production", an alias) so the hot path does not query the registry on every call."""

    registry: Registry
    _loaded: dict[tuple[str, str, int], LoadedModel] = field(default_factory=dict)
    _resolved: dict[tuple[str, str, str], tuple[float, VersionInfo]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def resolve(self, project: str, name: str, ref: str | int | None) -> VersionInfo:
        key = (project, name, str(ref))
        hit = self._resolved.get(key)
        now = time.monotonic()
        if hit and now - hit[0] < RESOLVE_TTL_S:
            return hit[1]
        info = self.registry.resolve(name, ref, project=project)
        self._resolved[key] = (now, info)
        return info

    def get(self, info: VersionInfo) -> LoadedModel:
        key = (info.project, info.model_name, info.version)
        model = self._loaded.get(key)
        if model is not None:
            return model
        with self._lock:
            model = self._loaded.get(key)
            if model is None:
                path = self.registry.bundle_path(info)
                model = load_bundle(path, name=info.model_name, version=info.version)
                self._loaded[key] = model
        return model

    def invalidate(self, project: str, name: str) -> None:
        """Forget resolutions of a model after a stage or alias change in this process."""
        for key in [k for k in self._resolved if k[0] == project and k[1] == name]:
            self._resolved.pop(key, None)


@dataclass
class AppState:
    settings: Settings
    registry: Registry
    keys: KeyStore
    audit: AuditLog
    models: ModelCache
    started_at: float = field(default_factory=time.monotonic)
    ready: bool = False
