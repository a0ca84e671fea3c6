"""Loaded model versions, shared by every request of the process.

One onnxruntime session per (project, model, version), loaded on first use and kept while it
is used; a version idle for longer than ``idle_unload_s`` is dropped (requests in flight keep
their reference, so unloading never breaks one). References such as "production" or an alias
are resolved against the registry at most every ``resolve_ttl_s`` seconds per reference, so a
promotion elsewhere is picked up within that time without a database query per request.

The lookups the hot path makes (``resolve_cached``, ``get_cached``, ``batcher``) never touch
the database or the disk; the ones that may (``resolve``, ``get``) are run by the service in a
worker thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from medmaas.runtime.batcher import BatchingConfig, MicroBatcher
from medmaas.runtime.loaded import LoadedModel, load_bundle

if TYPE_CHECKING:
    from medmaas.registry import Registry, VersionInfo

logger = logging.getLogger(__name__)

Key = tuple[str, str, int]


class ModelCache:
    """>>> cache = ModelCache(registry)                                       # doctest: +SKIP
    >>> model = cache.get(cache.resolve("default", "sepsis-risk", "production"))  # doctest: +SKIP
    """

    def __init__(self, registry: Registry, *, resolve_ttl_s: float = 2.0,
                 idle_unload_s: float | None = 3600.0, batching: BatchingConfig | None = None,
                 inference_threads: int | None = None) -> None:
        self.registry = registry
        self.resolve_ttl_s = resolve_ttl_s
        self.idle_unload_s = idle_unload_s
        self.batching = batching or BatchingConfig()
        self._loaded: dict[Key, LoadedModel] = {}
        self._batchers: dict[Key, MicroBatcher] = {}
        self._last_used: dict[Key, float] = {}
        self._resolved: dict[tuple[str, str, str], tuple[float, VersionInfo]] = {}
        self._lock = threading.Lock()
        # Inference calls too slow to run on the event loop; one thread per core is enough
        # because each call already keeps a core busy.
        self.executor = ThreadPoolExecutor(max_workers=inference_threads or os.cpu_count() or 2,
                                           thread_name_prefix="medmaas-infer")

    # -- references -------------------------------------------------------------------------

    def resolve_cached(self, project: str, name: str, ref: str | int | None) -> VersionInfo | None:
        hit = self._resolved.get((project, name, str(ref)))
        if hit is not None and time.monotonic() - hit[0] < self.resolve_ttl_s:
            return hit[1]
        return None

    def resolve(self, project: str, name: str, ref: str | int | None) -> VersionInfo:
        """The version ``ref`` names now (may query the registry)."""
        info = self.resolve_cached(project, name, ref)
        if info is None:
            info = self.registry.resolve(name, ref, project=project)
            self._resolved[(project, name, str(ref))] = (time.monotonic(), info)
        return info

    def invalidate(self, project: str, name: str) -> None:
        """Forget resolutions of a model after a stage or alias change in this process."""
        for key in [k for k in self._resolved if k[0] == project and k[1] == name]:
            self._resolved.pop(key, None)

    # -- loaded versions --------------------------------------------------------------------

    def get_cached(self, info: VersionInfo) -> LoadedModel | None:
        key = (info.project, info.model_name, info.version)
        model = self._loaded.get(key)
        if model is not None:
            self._last_used[key] = time.monotonic()
        return model

    def get(self, info: VersionInfo) -> LoadedModel:
        """The loaded version, loading it (ONNX session, warm-up) if needed."""
        model = self.get_cached(info)
        if model is not None:
            return model
        key = (info.project, info.model_name, info.version)
        with self._lock:
            model = self._loaded.get(key)
            if model is None:
                started = time.perf_counter()
                model = load_bundle(self.registry.bundle_path(info), name=info.model_name,
                                    version=info.version, project=info.project)
                self._loaded[key] = model
                logger.info("loaded %s v%d in %.0f ms", info.model_name, info.version,
                            (time.perf_counter() - started) * 1000)
            self._last_used[key] = time.monotonic()
        return model

    def batcher(self, model: LoadedModel) -> MicroBatcher:
        """The micro-batcher of a loaded version (one per version, made on first use)."""
        key = (model.project, model.name, model.version)
        batcher = self._batchers.get(key)
        if batcher is None:
            batcher = self._batchers[key] = MicroBatcher(
                model.run, cost=model.cost, config=self.batching, executor=self.executor)
        return batcher

    def loaded(self) -> list[Key]:
        return sorted(self._loaded)

    def unload(self, project: str, name: str, version: int | None = None) -> list[Key]:
        """Drop loaded versions of a model (all of them without ``version``)."""
        with self._lock:
            keys = [k for k in self._loaded
                    if k[0] == project and k[1] == name and (version is None or k[2] == version)]
            for key in keys:
                self._drop(key)
        return keys

    def unload_idle(self, now: float | None = None) -> list[Key]:
        """Drop versions unused for ``idle_unload_s``; returns what was dropped."""
        if not self.idle_unload_s:
            return []
        now = time.monotonic() if now is None else now
        with self._lock:
            keys = [k for k, used in self._last_used.items()
                    if now - used >= self.idle_unload_s and k in self._loaded
                    and not self._busy(k)]
            for key in keys:
                self._drop(key)
        for key in keys:
            logger.info("unloaded %s v%d after %.0f s idle", key[1], key[2], self.idle_unload_s)
        return keys

    def _busy(self, key: Key) -> bool:
        batcher = self._batchers.get(key)
        return batcher is not None and batcher.queued_rows > 0

    def _drop(self, key: Key) -> None:
        self._loaded.pop(key, None)
        self._batchers.pop(key, None)
        self._last_used.pop(key, None)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
