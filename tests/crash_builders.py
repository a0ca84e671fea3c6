"""Processes and load for the crash-safety test: a medmaas server in a process group of its
own, a registrar that registers bundles in a loop, the concurrent workload (predictions, batch
requests, promotions, aliases, keys) that records what was acknowledged, and the CLI run as an
operator would after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from tests.server_process import free_port, log_tail, wait_ready

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def copy_args(info: Any, actor: str) -> dict[str, Any]:
    """register_version's arguments that make a copy of version ``info``."""
    head = info.headline
    return {"kind": info.kind, "task": info.task, "created_by": actor, "metrics": info.metrics,
            "headline": {"name": head.name, "value": head.value, "ci": list(head.ci) if head.ci else None}
            if head else None, "spec": info.spec, "card": info.card}


# -- processes --------------------------------------------------------------------------------

def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDMAAS_")}
    return {**env, "MEDMAAS_LOG_LEVEL": "WARNING", "MEDMAAS_RATE_LIMIT_PER_S": "0",
            "PYTHONPATH": str(ROOT), **extra}


def spawn(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    """A process in a group of its own, so that one SIGKILL reaches everything it started."""
    with open(log, "ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=clean_env(**env), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str

    @classmethod
    def start(cls, home: Path, log: Path, *, builtin: bool) -> Server:
        port = free_port()
        proc = spawn([str(BIN / "medmaas"), "--home", str(home), "serve", "--port", str(port),
                       "--builtin" if builtin else "--no-builtin"], log)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(proc, base, log, timeout=90, path="/v2/health/ready")
        except AssertionError:
            kill_group(proc)
            raise
        return cls(proc, base)


def registrar_main(home: str, workdir: str, journal: str, seed: str, go: str) -> None:
    """Once the file ``go`` exists, register copies of wdbc's bundle (each with a few random
    bytes more, every fifth the same again) as new versions of wdbc, as ``medmaas train``
    registers: the version and its audit event in one transaction. Writes B(egin) and
    R(egistered and audited) lines to ``journal`` as it goes."""
    from medmaas.audit import AuditEvent, AuditLog
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    rng = random.Random(int(seed))
    registry = Registry.open(Settings(home=Path(home)))
    audit = AuditLog(registry)
    source = registry.resolve("wdbc", 1)
    source_dir = registry.bundle_path(source)
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    bundle: Path | None = None
    while not Path(go).exists():
        time.sleep(0.005)
    with open(journal, "a", buffering=1) as out:
        for n in range(1_000_000):
            if bundle is None or n % 5:
                if bundle is not None:
                    shutil.rmtree(bundle)
                bundle = work / f"b{n}"
                shutil.copytree(source_dir, bundle)
                (bundle / "crash-note.bin").write_bytes(rng.randbytes(rng.randint(1024, 64 * 1024)))
            out.write(f"B {n}\n")
            info = registry.register_version(
                "wdbc", bundle, **copy_args(source, "crash-registrar"),
                record=audit.recorder(lambda registered, n=n: AuditEvent(
                    actor="crash-registrar", role="admin", action="model.register", resource="wdbc",
                    version=registered.version, detail={"n": n})))
            out.write(f"R {n} {info.version} {info.bundle_sha256}\n")
            time.sleep(rng.uniform(0, 0.03))


@dataclass
class Registrar:
    proc: subprocess.Popen[bytes]
    journal: Path
    go: Path

    @classmethod
    def start(cls, home: Path, work: Path, cycle: int, seed: int) -> Registrar:
        journal, go = work / f"registrar-{cycle}.log", work / f"registrar-{cycle}.go"
        code = ("import sys; from tests.crash_builders import registrar_main; "
                "registrar_main(*sys.argv[1:])")
        proc = spawn([sys.executable, "-c", code, str(home), str(work / f"registrar-{cycle}"), str(journal),
                       str(seed), str(go)], work / f"registrar-{cycle}.out")
        return cls(proc, journal, go)

    async def begin(self, *, settled: bool) -> None:
        """Let it register; with ``settled``, wait until its first registration is audited."""
        self.go.touch()
        deadline = time.monotonic() + 60
        while settled and not any(line[0] == "R" for line in read_journal(self.journal)):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the registrar did not register: {log_tail(self.proc_log())}")
            await asyncio.sleep(0.01)

    def proc_log(self) -> Path:
        return self.journal.with_name(self.journal.name.replace(".log", ".out"))


# -- the workload -----------------------------------------------------------------------------

@dataclass
class Inputs:
    rows: list[dict[str, Any]]
    csv: bytes
    fhir: bytes
    fhir_at: str


def make_inputs() -> Inputs:
    from tests import fhir_builders as fb
    from tests.conftest import breast_cancer_frame

    frame = breast_cancer_frame().drop(columns=["diagnosis"])
    path = fb.example_bundles()[0]
    return Inputs(rows=frame.head(200).to_dict(orient="records"), csv=frame.head(200).to_csv(index=False).encode(),
                  fhir=path.read_bytes(), fhir_at=fb.last_observation_time(fb.load(path)))


@dataclass
class Workload:
    """Concurrent predictions, batch requests and admin changes; what was acknowledged."""

    base: str
    keys: dict[str, str]
    rng: random.Random
    inputs: Inputs
    versions: list[int]
    fhir_model: str | None
    revocable: list[str]
    cycle: int
    inflight: Counter[str] = field(default_factory=Counter)
    at_kill: dict[str, int] = field(default_factory=dict)
    predictions: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, request id)
    changes: list[tuple[str, str, int | None, str]] = field(default_factory=list)  # audit keys
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _send(self, client: httpx.AsyncClient, what: str, method: str, url: str,
                    **kwargs: Any) -> httpx.Response | None:
        self.inflight[what] += 1
        try:
            return await client.request(method, url, **kwargs)
        except httpx.HTTPError:  # the server died under it: not acknowledged
            return None
        finally:
            self.inflight[what] -= 1

    def _auth(self, role: str, content_type: str = "application/json") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", "Content-Type": content_type}

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=20) as client:
            await asyncio.gather(self._predictions(client), self._batches(client), self._admin(client, 0),
                                 self._admin(client, 1))

    async def _predictions(self, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            await asyncio.gather(*(self._predict_one(client) for _ in range(24)))

    async def _predict_one(self, client: httpx.AsyncClient) -> None:
        r, row = self.rng.random(), self.rng.choice(self.inputs.rows)
        if r < 0.1 and self.fhir_model:
            endpoint = "fhir"
            response = await self._send(
                client, "predict", "POST", "/fhir/r4/RiskAssessment/$predict", content=self.inputs.fhir,
                params={"model": self.fhir_model, "at": self.inputs.fhir_at, "explain": "false"},
                headers=self._auth("clinician", "application/fhir+json"))
        elif r < 0.3:
            endpoint = "v2"
            values = [float(v) for v in row.values()]
            body = {"inputs": [{"name": "input", "shape": [1, len(values)], "datatype": "FP32", "data": values}]}
            response = await self._send(client, "predict", "POST", "/v2/models/wdbc/infer",
                                        content=orjson.dumps(body), headers=self._auth("clinician"))
        else:
            endpoint = "v1"
            url = "/v1/models/wdbc/predict" + ("?version=champion" if r > 0.9 else "")
            response = await self._send(client, "predict", "POST", url, content=orjson.dumps({"rows": [row]}),
                                        headers=self._auth("clinician"))
        if response is not None and response.status_code == 200:
            self.predictions.append((endpoint, response.headers["x-request-id"]))

    async def _batches(self, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            if self.rng.random() < 0.5:
                endpoint, response = "csv", await self._send(
                    client, "batch", "POST", "/v1/models/wdbc/predict/csv", content=self.inputs.csv,
                    headers=self._auth("clinician", "text/csv"))
            else:
                endpoint, response = "v1-rows", await self._send(
                    client, "batch", "POST", "/v1/models/wdbc/predict",
                    content=orjson.dumps({"rows": self.inputs.rows[:100]}), headers=self._auth("clinician"))
            if response is not None and response.status_code == 200:
                self.predictions.append((endpoint, response.headers["x-request-id"]))

    async def _admin(self, client: httpx.AsyncClient, lane: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            r, version = self.rng.random(), self.rng.choice(self.versions)
            if r < 0.45:
                stage = self.rng.choice(["staging", "production", "archived"])
                response = await self._send(client, "promotion", "POST", f"/v1/models/wdbc/versions/{version}/promote",
                                            json={"stage": stage, "reason": "crash test"}, headers=self._auth("admin"))
                if response is not None and response.status_code == 200:
                    self.changes.append(("model.promote", "wdbc", version, stage))
            elif r < 0.7:
                response = await self._send(client, "promotion", "PUT", "/v1/models/wdbc/aliases/champion",
                                            json={"version": version}, headers=self._auth("admin"))
                if response is not None and response.status_code == 200:
                    self.changes.append(("model.alias", "wdbc", version, "champion"))
            elif r < 0.85 or not self.revocable:
                response = await self._send(client, "keys", "POST", "/v1/keys",
                                            json={"name": f"crash-{self.cycle}-{lane}-{n}", "role": "clinician"},
                                            headers=self._auth("admin"))
                if response is not None and response.status_code == 201:
                    key_id = response.json()["key_id"]
                    self.revocable.append(key_id)
                    self.changes.append(("key.create", key_id, None, ""))
            else:
                key_id = self.revocable.pop(self.rng.randrange(len(self.revocable)))
                response = await self._send(client, "keys", "DELETE", f"/v1/keys/{key_id}", headers=self._auth("admin"))
                if response is not None and response.status_code == 204:
                    self.changes.append(("key.revoke", key_id, None, ""))
            await asyncio.sleep(self.rng.uniform(0.005, 0.03))


def read_journal(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


_CLI = """
import contextlib, io, sys
from medmaas.cli.main import main
for line in sys.argv[2:]:
    args, out, code = line.split(), io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main(["--home", sys.argv[1], *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    print(f"=== {line} {code}")
    print(out.getvalue())
"""


def run_cli(home: Path, *commands: list[str]) -> dict[str, tuple[int, str]]:
    """Run ``medmaas`` commands one after another through the CLI's own entry point, in one fresh
    process (one start-up instead of one each); {command: (exit code, output)}."""
    lines = [" ".join(c) for c in commands]
    done = subprocess.run([sys.executable, "-c", _CLI, str(home), *lines], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=300)
    results, name = {}, None
    for line in done.stdout.splitlines():
        if line.startswith("=== "):
            name, code = line[4:].rsplit(" ", 1)
            results[name] = (int(code), "")
        elif name is not None:
            results[name] = (results[name][0], results[name][1] + line + "\n")
    for line in lines:
        results.setdefault(line, (done.returncode or 1, done.stdout[-800:] + done.stderr[-800:]))
    return results
