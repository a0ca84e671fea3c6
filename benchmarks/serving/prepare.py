"""Everything before the first request: wrk, the data, the model, the peer venvs, medmaas's home."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent  # benchmarks/
REPO = BENCH.parent
CSV = REPO / "src" / "medmaas" / "builtin" / "data" / "breast_cancer_wdbc.csv"
TARGET = "diagnosis"
KEY_RE = re.compile(r"mm_[a-z0-9]+_[A-Za-z0-9_-]+")

# Peer versions: concrete pins that install from this machine's index. scikit-learn is pinned to
# the project venv's version so the one joblib model loads everywhere.
PEER_PINS = {
    "mlflow": ["mlflow==3.17.2"],
    "bentoml": ["bentoml==1.4.39"],
}


def say(message: str) -> None:
    print(message, flush=True)


def sh(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None,
       cwd: Path | None = None) -> str:
    """Run a command, return its stdout; raise with its output if it fails."""
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n"
                           f"{(done.stdout + done.stderr).strip()[-2000:]}")
    return done.stdout


@dataclass
class Context:
    work: Path  # this run's scratch directory under /tmp
    bin: Path = field(default_factory=lambda: Path(sys.executable).parent)  # project venv
    repo: Path = REPO
    model_dir: Path = field(init=False)
    features: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)
    medmaas_home: Path | None = None
    medmaas_key: str = ""
    medmaas_model: str = "bench"
    ceiling_key: str = field(default_factory=lambda: f"mm_ceiling_{secrets.token_urlsafe(32)}")

    def __post_init__(self) -> None:
        self.model_dir = self.work / "model"
        for sub in ("logs", "wrk", "bodies"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)

    def records(self, rows: list[list[float]]) -> list[dict[str, float]]:
        return [dict(zip(self.features, row, strict=True)) for row in rows]


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    say("wrk not found: installing it with apt-get")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    sh([*sudo, "apt-get", "install", "-y", "wrk"], timeout=600,
       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def load_data(ctx: Context) -> None:
    with CSV.open(newline="") as f:
        reader = csv.DictReader(f)
        ctx.features = [c for c in reader.fieldnames or [] if c != TARGET]
        ctx.rows = [[float(r[c]) for c in ctx.features] for r in reader]


def train_model(ctx: Context) -> None:
    """model.joblib + model.onnx + meta.json + reference.json in ctx.model_dir."""
    sh([str(ctx.bin / "python"), "-m", "benchmarks.serving.peers.train", str(CSV),
        str(ctx.model_dir)], timeout=600, cwd=REPO)
    ctx.classes = json.loads((ctx.model_dir / "meta.json").read_text())["classes"]


def peer_venv(name: str, *, skip_install: bool) -> Path:
    """benchmarks/.venvs/<name> with the pinned packages; reused when its pins match."""
    venv = BENCH / ".venvs" / name
    pins = [*PEER_PINS[name], f"scikit-learn=={version('scikit-learn')}"]
    marker = venv / ".bench-pins"
    wanted = "\n".join(pins) + "\n"
    if (venv / "bin" / "python").exists() and marker.exists() and marker.read_text() == wanted:
        say(f"  {name}: reusing {venv.relative_to(REPO)} ({', '.join(pins)})")
        return venv
    if skip_install:
        raise RuntimeError(f"{venv} is missing or has other versions and --skip-install is set")
    say(f"  {name}: creating {venv.relative_to(REPO)} and installing {', '.join(pins)} "
        "(a minute or two)")
    base = getattr(sys, "_base_executable", sys.executable)
    sh([base, "-m", "venv", "--clear", str(venv)], timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check"]
    sh([*pip, "--upgrade", "pip"], timeout=600)
    sh([*pip, *pins], timeout=1800)
    marker.write_text(wanted)
    return venv


def save_mlflow_model(ctx: Context) -> None:
    python = BENCH / ".venvs" / "mlflow" / "bin" / "python"
    sh([str(python), str(Path(__file__).parent / "peers" / "mlflow_save.py"),
        str(ctx.model_dir / "model.joblib"), str(ctx.model_dir / "mlflow_model")], timeout=300)


def setup_medmaas(ctx: Context) -> None:
    """A fresh home: init, a clinician key, the model trained and promoted to production."""
    home = ctx.work / "medmaas-home"
    ctx.medmaas_home = home
    env = {**os.environ, "MEDMAAS_HOME": str(home)}
    medmaas = str(ctx.bin / "medmaas")
    out = sh([medmaas, "init", "--no-builtin"], env=env, timeout=300)
    admin = KEY_RE.search(out)
    if not admin:
        raise RuntimeError(f"medmaas init printed no API key:\n{out}")
    try:
        out = sh([medmaas, "keys", "create", "--name", "bench", "--role", "clinician", "--json"],
                 env=env, timeout=120)
        ctx.medmaas_key = KEY_RE.search(out).group(0)  # type: ignore[union-attr]
    except (RuntimeError, AttributeError) as exc:
        say(f"  could not create a clinician key ({exc}); using the admin key")
        ctx.medmaas_key = admin.group(0)
    say("  training the model in medmaas (gradient boosting, --bootstrap 100)")
    sh([medmaas, "train", str(CSV), "--target", TARGET, "--name", ctx.medmaas_model,
        "--candidates", "gradient-boosting", "--bootstrap", "100"], env=env, timeout=1200)
    sh([medmaas, "models", "promote", ctx.medmaas_model, "1", "--stage", "production"],
       env=env, timeout=120)


def versions(ctx: Context) -> dict[str, str]:
    """Versions of everything measured, for the report."""
    out = {"python": sys.version.split()[0]}
    for package in ("medmaas", "onnxruntime", "fastapi", "uvicorn", "scikit-learn", "orjson"):
        out[package] = version(package)
    try:
        commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, timeout=30).strip()
        dirty = sh(["git", "status", "--porcelain", "--", "src"], cwd=REPO, timeout=30).strip()
        out["medmaas commit"] = commit + (" (src/ has uncommitted changes)" if dirty else "")
    except (RuntimeError, OSError):
        out["medmaas commit"] = "unknown"
    for name in PEER_PINS:
        python = BENCH / ".venvs" / name / "bin" / "python"
        if python.exists():
            with contextlib.suppress(RuntimeError):
                out[name] = sh([str(python), "-c", f"import importlib.metadata as m; "
                                f"print(m.version('{name}'))"], timeout=60).strip()
    with contextlib.suppress(RuntimeError, OSError):
        out["wrk"] = sh(["dpkg-query", "-W", "-f", "${Version}", "wrk"], timeout=30).strip()
    return out


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"nproc": str(len(os.sched_getaffinity(0))), "cpu": cpu, "ram": ram}
