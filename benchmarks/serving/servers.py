"""The servers under test: how to start each, what a request looks like, how to read an answer.

Every server gets one worker process, binds 127.0.0.1 on a port of its own and serves the same
GradientBoostingClassifier; each is asked in its own native request format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .prepare import BENCH, Context
from .procs import Proc, free_port, http, wait_until

PEERS = Path(__file__).parent / "peers"


class Server:
    name = ""
    label = ""
    venv: str | None = None  # the peer venv it needs under benchmarks/.venvs, if any
    path = "/predict"
    ready_path = "/readyz"
    start_timeout = 90.0

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.port = free_port()
        self.proc: Proc | None = None
        self.ready_s: float | None = None
        self._bodies: dict[int, Path] = {}

    # -- what differs per server ---------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {"BENCH_DIR": str(self.ctx.model_dir)}

    def cwd(self) -> Path:
        return self.ctx.repo

    def headers(self) -> dict[str, str]:
        return {}

    def payload(self, rows: list[list[float]]) -> object:
        return {"rows": self.ctx.records(rows)}

    def classes(self, answer: object) -> list[str]:
        """The predicted class of each row, from a 200 answer's JSON."""
        return [p["label"] for p in answer["predictions"]]  # type: ignore[index]

    # -- shared ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def body_path(self, n_rows: int) -> Path:
        """A file holding the JSON body for the first ``n_rows`` rows of the data."""
        if n_rows not in self._bodies:
            path = self.ctx.work / "bodies" / f"{self.name}-{n_rows}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_text(json.dumps(self.payload(self.ctx.rows[:n_rows])))
            self._bodies[n_rows] = path
        return self._bodies[n_rows]

    def predict(self, n_rows: int) -> tuple[int, object]:
        """POST the ``n_rows`` body once; (status, parsed JSON or the raw text)."""
        status, raw = http("POST", self.url, body=self.body_path(n_rows).read_bytes(),
                           headers={"Content-Type": "application/json", **self.headers()})
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")[:300]

    def start(self) -> None:
        env = {**os.environ, **self.env()}
        if self.venv:
            env["PATH"] = f"{BENCH / '.venvs' / self.venv / 'bin'}:{env.get('PATH', '')}"
        self.proc = Proc(self.name, self.command(), env=env, cwd=self.cwd(),
                         log=self.ctx.work / "logs" / f"{self.name}.log")
        ready = f"http://127.0.0.1:{self.port}{self.ready_path}"
        self.ready_s = wait_until(lambda: http("GET", ready, timeout=2)[0] == 200, self.proc,
                                  self.start_timeout)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


class Medmaas(Server):
    name, label = "medmaas", "medmaas (auth + audit)"

    @property
    def path(self) -> str:  # type: ignore[override]
        return f"/v1/models/{self.ctx.medmaas_model}/predict"

    def command(self) -> list[str]:
        return [str(self.ctx.bin / "medmaas"), "serve", "--no-builtin", "--host", "127.0.0.1",
                "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        # One key sends every request: its per-key rate limit would cap the throughput measured.
        return {"MEDMAAS_HOME": str(self.ctx.medmaas_home), "MEDMAAS_RATE_LIMIT_PER_S": "0"}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ctx.medmaas_key}"}

    def classes(self, answer: object) -> list[str]:
        out = []
        for p in answer["predictions"]:  # type: ignore[index]
            probabilities = p.get("probabilities")
            out.append(max(probabilities, key=probabilities.get) if probabilities
                       else p["prediction"])
        return out


class Ceiling(Server):
    name, label = "ceiling", "ceiling: bare ASGI + onnxruntime"

    def command(self) -> list[str]:
        return [str(self.ctx.bin / "python"), "-m", "uvicorn", "benchmarks.serving.peers.ceiling:app",
                "--host", "127.0.0.1", "--port", str(self.port), "--http", "httptools",
                "--loop", "uvloop", "--no-access-log"]

    def env(self) -> dict[str, str]:
        return {"BENCH_DIR": str(self.ctx.model_dir), "BENCH_KEY": self.ctx.ceiling_key}

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ctx.ceiling_key}"}


class FastAPISklearn(Server):
    name, label = "fastapi", "FastAPI + uvicorn + scikit-learn"

    def command(self) -> list[str]:
        return [str(self.ctx.bin / "python"), "-m", "uvicorn",
                "benchmarks.serving.peers.fastapi_sklearn:app", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log"]


def _argmax_classes(ctx: Context, probabilities: list[list[float]]) -> list[str]:
    return [ctx.classes[max(range(len(p)), key=p.__getitem__)] for p in probabilities]


class MLflow(Server):
    name, label, venv = "mlflow", "MLflow models serve", "mlflow"
    path, ready_path = "/invocations", "/ping"

    def command(self) -> list[str]:
        return [str(BENCH / ".venvs" / "mlflow" / "bin" / "mlflow"), "models", "serve",
                "-m", str(self.ctx.model_dir / "mlflow_model"), "--env-manager", "local",
                "-w", "1", "-h", "127.0.0.1", "-p", str(self.port)]

    def env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_URI": f"file://{self.ctx.work / 'mlruns'}"}

    def payload(self, rows: list[list[float]]) -> object:
        return {"dataframe_records": self.ctx.records(rows)}

    def classes(self, answer: object) -> list[str]:
        return _argmax_classes(self.ctx, answer["predictions"])  # type: ignore[index]


class BentoML(Server):
    venv = "bentoml"
    batching = False

    def command(self) -> list[str]:
        return [str(BENCH / ".venvs" / "bentoml" / "bin" / "bentoml"), "serve",
                "bentoml_service:GBC", "--host", "127.0.0.1", "--port", str(self.port)]

    def cwd(self) -> Path:
        return PEERS

    def env(self) -> dict[str, str]:
        return {"BENCH_DIR": str(self.ctx.model_dir), "BENCH_BATCHING": str(int(self.batching)),
                "BENTOML_HOME": str(self.ctx.work / f"bentoml-home-{self.name}"),
                "BENTOML_DO_NOT_TRACK": "true"}

    def payload(self, rows: list[list[float]]) -> object:
        return {"rows": rows}

    def classes(self, answer: object) -> list[str]:
        return _argmax_classes(self.ctx, answer)  # type: ignore[arg-type]


class BentoMLBatching(BentoML):
    name, label, batching = "bentoml-batch", "BentoML, adaptive batching", True


class BentoMLPlain(BentoML):
    name, label, batching = "bentoml-plain", "BentoML, no batching", False


ALL: list[type[Server]] = [Medmaas, Ceiling, FastAPISklearn, MLflow, BentoMLBatching,
                           BentoMLPlain]
ALIASES = {"bentoml": ["bentoml-batch", "bentoml-plain"]}


def select(only: str | None) -> list[type[Server]]:
    if not only:
        return list(ALL)
    by_name = {cls.name: cls for cls in ALL}
    wanted: list[str] = []
    for name in (n.strip() for n in only.split(",") if n.strip()):
        names = ALIASES.get(name, [name])
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise SystemExit(f"unknown server {name!r}; choose from "
                             f"{', '.join([*by_name, *ALIASES])}")
        wanted += [n for n in names if n not in wanted]
    return [by_name[n] for n in by_name if n in wanted]
