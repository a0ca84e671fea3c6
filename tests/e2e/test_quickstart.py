"""The README's promise, as a user meets it: `medmaas serve` on an empty home prints a key,
answers at once, builds the built-in models in the background (the tables within a minute or
two, the CNNs after them, their progress visible), and a restart is ready fast."""

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


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc; empty where there is none)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        # A child that outlived the server would hold the pipe open: don't wait for it forever.
        out, _ = proc.communicate(timeout=20)
    return out


def _wait_for_models(proc: subprocess.Popen[str], port: int, names: set[str],
                     timeout: float) -> tuple[dict[str, str], dict[str, dict], list[dict]]:
    """Read the printed key, then poll the listing until ``names`` are all registered."""
    headers: dict[str, str] = {}
    deadline = time.time() + timeout
    models: dict[str, dict] = {}
    building: list[dict] = []
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
        building = listing["building"]
        if names <= set(models):
            break
        time.sleep(1)
    assert headers, "no API key was printed"
    assert names <= set(models), f"not built in {timeout}s: {sorted(names - set(models))}"
    return headers, models, building


def test_first_start_prints_a_key_builds_models_and_serves_them(tmp_path: Path) -> None:
    from medmaas.builtin.catalog import BUILTINS

    port = _free_port()
    proc = _start(tmp_path, port)
    tables = {b.name for b in BUILTINS if b.kind == "tabular"}
    images = {b.name for b in BUILTINS if b.kind == "image"}
    try:
        assert _wait_ready(port, 30) < 30
        headers, models, building = _wait_for_models(proc, port, tables, 240)
        assert all(models[name]["production_version"] == 1 for name in tables)
        # The CNNs train after the tables; each shows as a job with its progress meanwhile.
        assert images <= {job["model_name"] for job in building} | set(models)
        wdbc = models["breast-cancer-wdbc"]["headline"]
        assert wdbc["name"] == "auroc" and wdbc["value"] >= 0.99

        detail = httpx.get(f"http://127.0.0.1:{port}/v1/models/breast-cancer-wdbc/versions/production",
                           headers=headers, timeout=5).json()
        assert detail["card"]["evaluation"]["metrics"]["accuracy"]["value"] >= 0.97
        assert detail["card"]["benchmarks"][0].startswith("Published: 97.5%")
        row = {f["name"]: (f["minimum"] + f["maximum"]) / 2 for f in detail["spec"]["inputs"]}
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/breast-cancer-wdbc/predict",
                            headers=headers, json={"rows": [row]}, timeout=10)
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["prediction"] in ("malignant", "benign")
        children = _children(proc.pid)  # the audit writer and the build, still training CNNs
    finally:
        output = _stop(proc)
    assert "Traceback" not in output
    # Stopping the server stops its build: no orphan keeps training after it.
    deadline = time.time() + 15
    while any(_alive(pid) for pid in children) and time.time() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if _alive(pid)]

    # A restart with the models registered: ready in under 3 s, and no second key printed.
    proc = _start(tmp_path, port)
    try:
        assert _wait_ready(port, 10) < 3.0
    finally:
        output = _stop(proc)
    assert not KEY.search(output)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_first_start_builds_the_image_models_too(tmp_path: Path) -> None:
    """The whole first start, CNNs and the text model included (about 30 minutes on two cores)."""
    from medmaas.builtin.catalog import BUILTINS

    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_ready(port, 30)
        headers, models, _ = _wait_for_models(proc, port, {b.name for b in BUILTINS}, 3000)
        for model in (b for b in BUILTINS if b.kind == "image"):
            assert models[model.name]["production_version"] == 1
            assert models[model.name]["headline"]["name"] == "auroc"
            assert models[model.name]["headline"]["value"] >= 0.85
    finally:
        output = _stop(proc)
    assert "Traceback" not in output
