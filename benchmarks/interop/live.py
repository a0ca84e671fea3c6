"""A built-in model served by ``medmaas serve`` in its own process, for the interop benchmarks:
a temporary home, a clinician key, a keep-alive client once the server is ready."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered) * 1e3, 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1e3, 2), "n": len(ordered)}


def _medmaas(home: Path, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "medmaas.cli.main", "--home", str(home), *args],
                          check=True, capture_output=True, text=True).stdout


def _build(home: Path, model: str) -> None:
    from medmaas.builtin.build import build_one
    from medmaas.builtin.catalog import builtin
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    registry = Registry.open(Settings(home=home))
    try:
        build_one(builtin(model), registry, None, lambda _m, _f: None)
    finally:
        registry.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_builtin(model: str, *, ready_path: str = "/readyz",
                   max_body_bytes: int = 16 * 1024 * 1024) -> Iterator[httpx.Client]:
    """A client (clinician key, keep-alive) of a server that serves the built-in ``model``."""
    with tempfile.TemporaryDirectory(prefix="medmaas-interop-bench-") as tmp:
        home = Path(tmp) / "home"
        print(f"building {model} ...", flush=True)
        _build(home, model)
        key = json.loads(_medmaas(home, "keys", "create", "--name", "bench", "--role", "clinician",
                                  "--json"))["api_key"]
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "medmaas.cli.main", "--home", str(home), "serve",
                                   "--port", str(port), "--no-builtin"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**os.environ, "MEDMAAS_MAX_BODY_BYTES": str(max_body_bytes),
                                       # one key sends every request: no per-key rate limit
                                       "MEDMAAS_RATE_LIMIT_PER_S": "0"})
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"},
                              timeout=30) as client:
                _wait_ready(client, ready_path)
                yield client
        finally:
            server.terminate()
            server.wait(10)


def _wait_ready(client: httpx.Client, path: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not become ready")
        time.sleep(0.2)
