"""Run wrk against one server with lua/bench.lua and parse its BENCH_RESULT line."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = Path(__file__).parent / "lua" / "bench.lua"
CONNECTIONS = 16
THREADS = 2
SOCKET_TIMEOUT = "10s"  # a response slower than this counts as a timeout error


@dataclass(frozen=True)
class Body:
    rows: int
    weight: float
    path: Path


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    rows_per_request: float

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def ok_requests(self) -> int:
        """Completed responses with a status below 400."""
        return max(self.requests - self.errors.get("status", 0), 0)

    @property
    def rps(self) -> float:
        return self.ok_requests / self.duration_s if self.duration_s else 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rps * self.rows_per_request

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out.update(rps=self.rps, rows_per_s=self.rows_per_s, error_count=self.error_count)
        return out


def run(url: str, headers: dict[str, str], bodies: list[Body], *, duration: float,
        spec_path: Path, log_path: Path | None = None) -> WrkResult:
    """Load ``url`` for ``duration`` seconds; raises if wrk fails or hangs."""
    lines = [f"header\t{k}\t{v}" for k, v in headers.items()]
    lines += [f"body\t{b.weight}\t{b.rows}\t{b.path}" for b in bodies]
    spec_path.write_text("\n".join(lines) + "\n")
    cmd = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{duration:g}s",
           "--timeout", SOCKET_TIMEOUT, "-s", str(LUA), url]
    env = {**os.environ, "BENCH_SPEC": str(spec_path)}
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=duration + 60)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"wrk did not finish within {duration + 60:.0f} s") from exc
    if log_path is not None:
        log_path.write_text(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            raw = json.loads(line.removeprefix("BENCH_RESULT "))
            break
    else:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return WrkResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        errors={k: raw[k] for k in ("connect", "read", "write", "status", "timeout")},
        p50_ms=raw["p50_us"] / 1e3,
        p90_ms=raw["p90_us"] / 1e3,
        p99_ms=raw["p99_us"] / 1e3,
        max_ms=raw["max_us"] / 1e3,
        mean_ms=raw["mean_us"] / 1e3,
        rows_per_request=raw["rows_per_request"],
    )
