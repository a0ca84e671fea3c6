"""The README's promise, as a user meets it: `medmaas serve` on an empty home prints a key,
answers at once, builds the built-in models in the background, and a restart is ready fast."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration
KEY = re.compile(r"\bmm_[a-z0-9]+_[A-Za-z0-9_-]+")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(home: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "MEDMAAS_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "medmaas.cli.main", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_ready(port: int, timeout: float) -> float:
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                return time.perf_counter() - began
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not ready within {timeout}s")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_first_start_prints_a_key_builds_models_and_serves_them(tmp_path: Path) -> None:
    from medmaas.builtin.catalog import BUILTINS

    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        assert _wait_ready(port, 30) < 30
        headers: dict[str, str] = {}
        deadline = time.time() + 240
        models: dict[str, dict] = {}
        while time.time() < deadline:
            if not headers:
                # The key is printed before the server starts listening.
                line = proc.stdout.readline() if proc.stdout else ""
                match = KEY.search(line)
                if match:
                    headers = {"Authorization": f"Bearer {match.group(0)}"}
                continue
            listing = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers=headers, timeout=5).json()
            models = {m["name"]: m for m in listing["models"]}
            if len(models) == len(BUILTINS) and not listing["building"]:
                break
            time.sleep(1)
        assert headers, "no API key was printed"
        assert set(models) == {b.name for b in BUILTINS}
        assert all(m["production_version"] == 1 for m in models.values())
        wdbc = models["breast-cancer-wdbc"]["headline"]
        assert wdbc["name"] == "auroc" and wdbc["value"] >= 0.99

        detail = httpx.get(f"http://127.0.0.1:{port}/v1/models/breast-cancer-wdbc/versions/production",
                           headers=headers, timeout=5).json()
        assert detail["card"]["evaluation"]["metrics"]["accuracy"]["value"] >= 0.97
        row = {f["name"]: (f["minimum"] + f["maximum"]) / 2 for f in detail["spec"]["inputs"]}
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/breast-cancer-wdbc/predict",
                            headers=headers, json={"rows": [row]}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["prediction"] in ("malignant", "benign")
    finally:
        output = _stop(proc)
    assert "Traceback" not in output

    # A restart with the models registered: ready in under 3 s, and no second key printed.
    proc = _start(tmp_path, port)
    try:
        assert _wait_ready(port, 10) < 3.0
    finally:
        output = _stop(proc)
    assert not KEY.search(output)
