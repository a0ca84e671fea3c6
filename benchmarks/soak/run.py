"""Soak run: does medmaas serve a realistic mix for ten minutes at 80 % of its capacity without
errors, without its tail latency creeping up, and without its memory growing?

    python -m benchmarks.soak.run                      # the full run: ~2 min of step-up, 10 min of soak
    python -m benchmarks.soak.run --duration 60        # a quick check (windows of 15 s)
    python -m benchmarks.soak.run --capacity 400       # skip the step-up: soak at 80 % of 400 req/s

Needs the ``load`` extra (``pip install -e '.[load]'``: locust). What it does, in order:

1. **Prepare** (about 30 s): a fresh data directory under the system's temporary directory, the
   built-in ``breast-cancer-wdbc`` and ``heart-failure-mortality`` models trained into it as a
   first ``medmaas serve`` would, and a clinician API key (``benchmarks/soak/prepare.py``).
2. **Serve**: ``medmaas --home H serve --no-builtin --host 127.0.0.1 --port P`` as a child
   process, loopback only, ``MEDMAAS_*`` variables of the caller's environment removed and
   ``MEDMAAS_RATE_LIMIT_PER_S=0`` (one key sends all the load; the per-key limit would answer
   429). Each request type is then sent alone, eleven times one at a time, before anything is
   measured: the first request of a type may load a model or import a library (the first
   explain imports SHAP: seconds, and about 360 MB of RSS), and the results show the first
   latency, the median of the rest, and the RSS after each type.
3. **Capacity**: a closed-loop probe, then paced steps at fractions of its rate until one is not
   sustained; the rule is in ``benchmarks/soak/capacity.py`` and in the results.
4. **Soak**: the mix of ``benchmarks/soak/locustfile.py`` (75 % one-patient ``/v1`` predict, 8 %
   explain, 8 % V2 infer, 3 % FHIR ``$predict``, 6 % ``GET /v1/models``) at ``--load-fraction``
   of the capacity, paced by locust's ``constant_throughput`` (users × per-user rate = the
   target, so the load is bounded), for ``--duration`` seconds after ``--warmup``. Per window
   (60 s; a quarter of the duration when it is under 4 minutes): req/s, p50, p99, max, 5xx,
   other non-2xx and connection errors, the server's CPU, and its RSS. RSS (VmRSS of the server
   and every descendant: the audit writer) is also sampled every ``--sample-every`` seconds.
5. **Verdict** (``benchmarks/soak/report.py``): no 5xx and no errors at all; the rate held
   (>= 95 % of the target); p99 stable (last window <= max(1.5 × first window, first + 5 ms));
   RSS growth < 10 % from the end of the first window to the end; the server still running.
   Exit status 0 when all hold, 1 otherwise.

Results: ``benchmarks/soak/results/soak-<UTC time>.json`` (every number) and ``.md`` (the
tables), and a summary on stdout. The data directory and the server's log are deleted after a
pass and kept (path printed) after a failure or with ``--keep``.

The load generator runs in this process, on the same machine as the server: on a small machine
the capacity is that of the pair (each step records both one's CPU use), and other work on the
machine moves every number, so the results record the load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import gevent

from benchmarks.serving.procs import Proc, free_port, http, stop_all, tree_rss_kb, wait_until
from benchmarks.soak import capacity as capacity_mod
from benchmarks.soak import report as report_mod
from benchmarks.soak.load import Load, Recorder, Window, cpu_seconds, own_cpu_seconds
from benchmarks.soak.locustfile import (
    EXPLAIN,
    FHIR,
    FHIR_MODEL,
    INFER,
    PER_USER_RATE,
    PREDICT,
    TABLE_MODEL,
)

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
SERVER_ENV = {"MEDMAAS_RATE_LIMIT_PER_S": "0"}


def say(message: str) -> None:
    print(message, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=600, help="seconds of soak after the warm-up (default 600)")
    p.add_argument("--window", type=float, default=None,
                   help="seconds per reported window (default 60; duration/4 when the duration is under 240)")
    p.add_argument("--warmup", type=float, default=15, help="seconds of soak load before the first window")
    p.add_argument("--load-fraction", type=float, default=0.8, help="soak rate as a fraction of the capacity")
    p.add_argument("--capacity", type=float, default=None, help="req/s; skips the step-up")
    p.add_argument("--step-seconds", type=float, default=15, help="seconds per capacity step (default 15)")
    p.add_argument("--settle", type=float, default=3, help="seconds of each step not counted (default 3)")
    p.add_argument("--sample-every", type=float, default=5, help="seconds between RSS samples (default 5)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder (default benchmarks/soak/results)")
    p.add_argument("--keep", action="store_true", help="keep the data directory and server log after a pass")
    return p


# -- the server --------------------------------------------------------------------------------


def prepare(home: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.soak.prepare", str(home)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"preparing the data directory failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def start_server(home: Path, work: Path) -> tuple[Proc, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDMAAS_")} | SERVER_ENV
    medmaas = Path(sys.executable).parent / "medmaas"
    cmd = [str(medmaas), "--home", str(home), "serve", "--no-builtin", "--host", "127.0.0.1", "--port", str(port)]
    server = Proc("medmaas", cmd, env=env, cwd=work, log=work / "server.log")
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: http("GET", f"{base}/readyz", timeout=2)[0] == 200, server, timeout=60, interval=0.2)
    return server, base


def first_requests(base: str, key: str, server: Proc, repeat: int = 10) -> dict[str, Any]:
    """Each request type once (no lazy import or model load is measured later), then ``repeat``
    times more one at a time: the unloaded latency, and the server's RSS after each type."""
    auth = {"Authorization": f"Bearer {key}"}
    json_ = {**auth, "Content-Type": "application/json"}
    out: dict[str, Any] = {}
    for what, method, path, body, headers in [
        ("predict", "POST", f"/v1/models/{TABLE_MODEL}/predict", PREDICT[0], json_),
        ("v2 infer", "POST", f"/v2/models/{TABLE_MODEL}/infer", INFER[0], json_),
        ("models", "GET", "/v1/models", None, auth),
        ("explain", "POST", f"/v1/models/{TABLE_MODEL}/explain", EXPLAIN[0], json_),
        ("fhir $predict", "POST", f"/fhir/r4/RiskAssessment/$predict?model={FHIR_MODEL}", FHIR[0],
         {**auth, "Content-Type": "application/fhir+json"}),
    ]:
        times = []
        for _ in range(1 + repeat):
            began = time.perf_counter()
            status, answer = http(method, base + path, body=body, headers=headers, timeout=120)
            times.append((time.perf_counter() - began) * 1e3)
            if status != 200:
                raise SystemExit(f"{what}: expected 200, got {status}: {answer[:500]!r}")
        rest = sorted(times[1:])
        out[what] = {"first_ms": round(times[0], 1), "median_ms": round(rest[len(rest) // 2], 2),
                     "rss_mb_after": rss_now(server)[0]}
        say(f"  {what}: first {times[0]:.0f} ms, then median {out[what]['median_ms']:.1f} ms; "
            f"server RSS {out[what]['rss_mb_after']:.0f} MB")
    return out


def _label(pid: int, root: int) -> str:
    if pid == root:
        return "server"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"pid {pid}"
    if any(b"writer_process" in a for a in argv):
        return "audit writer"
    return Path(argv[0].decode(errors="replace")).name or f"pid {pid}"


def rss_now(server: Proc) -> tuple[float, dict[str, float]]:
    """The RSS of the server's process tree in MB, and per process."""
    per: dict[str, float] = {}
    for pid in server.pids():
        name = _label(pid, server.pid)
        per[name] = round(per.get(name, 0.0) + tree_rss_kb([pid]) / 1024, 1)
    return round(sum(per.values()), 1), per


class RssSampler:
    """Samples the server tree's RSS every ``every`` seconds in a greenlet, tagged with the phase."""

    def __init__(self, server: Proc, every: float, began: float) -> None:
        self.server, self.every, self.began = server, every, began
        self.phase = "ready"
        self.samples: list[dict[str, Any]] = []
        self._greenlet = gevent.spawn(self._run)

    def sample(self) -> dict[str, Any]:
        total, per = rss_now(self.server)
        entry = {"t_s": round(time.monotonic() - self.began, 1), "phase": self.phase, "rss_mb": total,
                 "processes": per}
        self.samples.append(entry)
        return entry

    def _run(self) -> None:
        while True:
            self.sample()
            gevent.sleep(self.every)

    def stop(self) -> None:
        self._greenlet.kill()


# -- the soak ----------------------------------------------------------------------------------


def soak(load: Load, recorder: Recorder, server: Proc, sampler: RssSampler, *, target: float,
         duration: float, window_s: float, warmup: float) -> dict[str, Any]:
    users = max(1, math.ceil(target / PER_USER_RATE))
    n = max(1, round(duration / window_s))
    recorder.by_name.clear()
    recorder.samples.clear()
    sampler.phase = "soak warm-up"
    everything, measured = Window(), Window()  # errors count from the warm-up on; latency after it
    load.start(users, spawn_seconds=min(5.0, max(1.0, warmup / 2)))
    say(f"soak: {users} users x {PER_USER_RATE:g} req/s = {users * PER_USER_RATE:.0f} req/s for {n} windows "
        f"of {window_s:g} s after a {warmup:g} s warm-up")
    warm = recorder.open()
    time.sleep(warmup)
    sampler.phase = "soak"
    windows: list[dict[str, Any]] = []
    began = time.monotonic()
    current = recorder.open()
    _merge(everything, warm)
    for i in range(n):
        cpu0, own0, t0 = cpu_seconds(server.pids()), own_cpu_seconds(), time.monotonic()
        time.sleep(max(0.0, began + (i + 1) * window_s - time.monotonic()))
        finished, current = current, recorder.open()
        elapsed = time.monotonic() - t0
        _merge(everything, finished)
        _merge(measured, finished)
        summary = finished.summary(elapsed)
        rss = sampler.sample()
        summary.update(window=i + 1, ends_at_s=round(time.monotonic() - began, 1), rss_mb=rss["rss_mb"],
                       rss_t_s=rss["t_s"], rss_processes=rss["processes"],
                       server_cpu_cores=round((cpu_seconds(server.pids()) - cpu0) / elapsed, 2),
                       generator_cpu_cores=round((own_cpu_seconds() - own0) / elapsed, 2))
        windows.append(summary)
        say(f"  [{i + 1}/{n}] {summary['ends_at_s']:6.0f} s: {summary['rps']:6.0f} req/s, p50 {summary['p50_ms']:5.1f} ms, "
            f"p99 {summary['p99_ms']:6.1f} ms, max {summary['max_ms']:6.0f} ms, 5xx {summary['status_5xx']}, "
            f"errors {summary['errors']}, RSS {rss['rss_mb']:.1f} MB, server CPU {summary['server_cpu_cores']:.2f}")
    soak_seconds = time.monotonic() - began
    load.stop()
    total = measured.summary(soak_seconds)
    errors = everything.summary(soak_seconds + warmup)
    for key in ("status_5xx", "non_2xx", "transport_errors", "errors", "statuses"):
        total[key] = errors[key]
    return {
        "target_rps": round(users * PER_USER_RATE, 1), "users": users, "per_user_rate": PER_USER_RATE,
        "duration_s": round(n * window_s, 1), "window_s": window_s, "warmup_s": warmup, "total": total,
        "warmup": warm.summary(warmup), "windows": windows,
        "by_request": {name: w.summary(soak_seconds + warmup) for name, w in sorted(recorder.by_name.items())},
        "error_samples": list(recorder.samples),
    }


def _merge(into: Window, window: Window) -> None:
    into.times_ms.extend(window.times_ms)
    into.statuses.update(window.statuses)


def rss_summary(windows: list[dict[str, Any]], samples: list[dict[str, Any]], ready_mb: float) -> dict[str, Any]:
    """Start = the end of window 1 (the warmed-up server), end = the end of the last window."""
    start, end = windows[0], windows[-1]
    after = [s for s in samples if s["phase"] == "soak" and s["t_s"] >= start["rss_t_s"]]
    slope = 0.0
    if len(after) >= 2:
        ts = [s["t_s"] / 60 for s in after]
        ys = [s["rss_mb"] for s in after]
        mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
        var = sum((t - mt) ** 2 for t in ts)
        slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var if var else 0.0
    names = sorted(set(start["rss_processes"]) | set(end["rss_processes"]))
    soak_samples = [s["rss_mb"] for s in samples if s["phase"] in ("soak", "soak warm-up")]
    return {
        "ready_mb": ready_mb, "start_mb": start["rss_mb"], "end_mb": end["rss_mb"],
        "growth_pct": round((end["rss_mb"] - start["rss_mb"]) / start["rss_mb"] * 100, 2),
        "peak_mb": max([*soak_samples, *(w["rss_mb"] for w in windows)]),
        "slope_mb_per_min": round(slope, 3),
        "processes": {n: {"start_mb": start["rss_processes"].get(n, 0.0), "end_mb": end["rss_processes"].get(n, 0.0)}
                      for n in names},
    }


# -- the run -----------------------------------------------------------------------------------


def server_log(path: Path, skip: int = 0) -> dict[str, Any]:
    """Error and warning lines of the server's log after its first ``skip`` lines."""
    errors, warnings, samples = 0, 0, []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines[skip:]:
        low = line.lower()
        if '"level": "error"' in low or '"level": "critical"' in low or line.startswith(("Traceback", "ERROR")):
            errors += 1
            if len(samples) < 5:
                samples.append(line[:300])
        elif '"level": "warning"' in low or line.startswith("WARNING"):
            warnings += 1
    return {"errors": errors, "warnings": warnings, "samples": samples, "lines": len(lines)}


def stop_server(server: Proc) -> None:
    """SIGTERM to the server alone, as a process manager that signals the main process does; it
    stops its audit writer itself. Whatever is left after 15 s is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.popen.wait(timeout=15)
    server.stop(grace=1.0)


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for package in ("medmaas", "locust", "uvicorn", "fastapi", "onnxruntime"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True,
                               text=True, timeout=30).stdout.strip()
        out["medmaas commit"] = (commit or "unknown") + (" (src/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        out["medmaas commit"] = "unknown"
    return out


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    window_s = args.window or (60.0 if args.duration >= 240 else max(5.0, args.duration / 4))
    command = " ".join(["python -m benchmarks.soak.run", *(sys.argv[1:] if argv is None else argv)])
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    load_before = _load_average()
    work = Path(tempfile.mkdtemp(prefix="medmaas-soak-"))
    say(f"scratch directory: {work}")
    began = time.monotonic()
    passed = False
    try:
        say("preparing: training breast-cancer-wdbc and heart-failure-mortality, creating a key")
        prepared = prepare(work / "home")
        say(f"  done in {prepared['seconds']:.0f} s")
        server, base = start_server(work / "home", work)
        ready_mb = rss_now(server)[0]
        say(f"server ready on {base} (pid {server.pid}, RSS {ready_mb:.0f} MB); each request type alone:")
        unloaded = first_requests(base, prepared["api_key"], server)
        sampler = RssSampler(server, args.sample_every, began)
        recorder = Recorder()
        load = Load(base, prepared["api_key"], recorder)
        if args.capacity:
            capacity: dict[str, Any] = {"capacity_rps": args.capacity, "given": True}
        else:
            sampler.phase = "capacity"
            say(f"capacity step-up ({args.step_seconds:g} s per step):")
            capacity = capacity_mod.step_up(load, recorder, server, step_seconds=args.step_seconds,
                                            settle=args.settle, say=say)
            capacity["error_samples"] = list(recorder.samples)
            if capacity["capacity_rps"] <= 0:
                raise SystemExit("no step was sustained, not even the lowest; see the steps above")
            say(f"capacity: {capacity['capacity_rps']:.0f} req/s")
        result = soak(load, recorder, server, sampler, target=args.load_fraction * capacity["capacity_rps"],
                      duration=args.duration, window_s=window_s, warmup=args.warmup)
        result["load_fraction"] = args.load_fraction
        result["sample_every_s"] = args.sample_every
        alive = server.alive()
        sampler.stop()
        result["rss"] = rss_summary(result["windows"], sampler.samples, ready_mb)
        result["rss_samples"] = sampler.samples
        during = server_log(work / "server.log")
        stop_server(server)
        at_stop = server_log(work / "server.log", skip=during["lines"])
        report: dict[str, Any] = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "command": command,
            "machine": report_mod.machine(), "versions": versions(),
            "load_average_before": load_before, "load_average_after": _load_average(),
            "models": prepared["models"], "server_env": SERVER_ENV, "unloaded": unloaded,
            "capacity": capacity, "soak": result, "server_log": during, "server_log_at_stop": at_stop,
            "wall_s": round(time.monotonic() - began, 1),
        }
        report["checks"] = report_mod.judge(result, alive)
        passed = report["passed"] = all(c["passed"] for c in report["checks"])
        json_path, md_path = report_mod.write(report, args.out, stamp)
        say("")
        say(report_mod.summary(report))
        say(f"wrote {_shown(json_path)} and {_shown(md_path)}")
    finally:
        stop_all()
        if passed and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"kept {work} (data directory, server.log)")
    return 0 if passed else 1


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
