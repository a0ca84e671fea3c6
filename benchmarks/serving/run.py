"""Serving benchmark: medmaas side by side with the tools a user would pick instead.

    .venv/bin/python -m benchmarks.serving.run [--duration 20] [--rounds 3] [--only a,b]
                                               [--skip-install] [--no-write]

Starts every server once, checks that each answers and predicts like the others, then loads
them with wrk in interleaved rounds (round 1: every workload on every server, then round 2...),
measures medmaas's start-up and memory with ten models, and writes the "Serving" section of
benchmarks/RESULTS.md and benchmarks/serving/results/latest.json. See README.md here.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from . import memory, prepare, procs, report, servers, wrk
from .prepare import REPO, Context, say
from .servers import Server

# workload -> (rows per request, weight): the mixed one draws a size per request
WORKLOADS: dict[str, list[tuple[int, float]]] = {
    "1-row": [(1, 1.0)],
    "64-row": [(64, 1.0)],
    "mixed": [(1, 80.0), (8, 15.0), (64, 5.0)],
}
CLEAR = 0.9  # rows the reference model is this sure about must get the same class everywhere


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.serving.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=20.0, help="seconds per measured run (20)")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run (2)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    p.add_argument("--only", help="comma-separated subset of: "
                   + ", ".join([c.name for c in servers.ALL] + list(servers.ALIASES)))
    p.add_argument("--skip-install", action="store_true",
                   help="do not create or update the peer venvs (they must exist)")
    p.add_argument("--no-write", action="store_true", help="leave benchmarks/RESULTS.md alone")
    p.add_argument("--keep-scratch", action="store_true",
                   help="keep the scratch directory (models, bodies, logs) after a run that finished")
    return p.parse_args(argv)


def command_line(argv: list[str]) -> str:
    python = Path(sys.executable)
    if python.is_relative_to(REPO):
        python = python.relative_to(REPO)
    line = f"{python} -m benchmarks.serving.run {shlex.join(argv)}".rstrip()
    return f"make bench-serving ({line})" if os.environ.get("MAKELEVEL") and not argv else line


def prepare_servers(ctx: Context, classes: list[type[Server]], args: argparse.Namespace,
                    results: dict) -> list[Server]:
    say("[setup] data and model")
    prepare.load_data(ctx)
    prepare.train_model(ctx)
    broken: dict[str, str] = {}
    venvs = sorted({c.venv for c in classes if c.venv})
    if venvs:
        say("[setup] peer venvs")
    for name in venvs:
        try:
            prepare.peer_venv(name, skip_install=args.skip_install)
            if name == "mlflow":
                prepare.save_mlflow_model(ctx)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"  {name} is not available: {exc}")
            broken[name] = str(exc)
    if any(c.name == "medmaas" for c in classes):
        say("[setup] medmaas home, key and model")
        prepare.setup_medmaas(ctx)
    started: list[Server] = []
    for cls in classes:
        server = cls(ctx)
        entry = results["servers"][server.name] = {"label": server.label, "runs": {}}
        if server.venv in broken:
            entry["error"] = f"{server.venv} could not be installed: {broken[server.venv]}"
            continue
        say(f"[start] {server.label} on port {server.port}")
        try:
            server.start()
            entry["ready_s"] = server.ready_s
            say(f"  ready after {server.ready_s:.1f} s")
        except RuntimeError as exc:
            say(f"  failed to start: {exc}")
            entry["error"] = f"did not start: {exc}"
            server.stop()
            continue
        started.append(server)
    return started


def sanity_check(ctx: Context, started: list[Server], results: dict) -> None:
    """Every server answers the 64-row body and agrees with scikit-learn on the clear rows."""
    reference = json.loads((ctx.model_dir / "reference.json").read_text())["probabilities"]
    expected = [ctx.classes[max(range(len(p)), key=p.__getitem__)] for p in reference]
    clear = [i for i, p in enumerate(reference) if max(p) >= CLEAR]
    say(f"[check] one 64-row request per server; {len(clear)} rows where the model is "
        f"≥ {CLEAR:.0%} sure must get the same class everywhere")
    for server in started:
        entry = results["servers"][server.name]
        status, answer = server.predict(64)
        if status != 200:
            entry["sanity"] = {"status": status, "answer": str(answer)[:300]}
            say(f"  {server.name}: HTTP {status}: {str(answer)[:200]}")
            results["notes"].append(f"{server.label}: the check request got HTTP {status}.")
            continue
        got = server.classes(answer)
        wrong = [i for i in clear if got[i] != expected[i]]
        agree = sum(a == b for a, b in zip(got, expected, strict=False))
        entry["sanity"] = {"status": status, "agree_of_64": agree, "clear_mismatches": wrong}
        say(f"  {server.name}: {agree}/64 rows agree with scikit-learn"
            + (f"; MISMATCH on clear rows {wrong}" if wrong else ""))
        if wrong:
            results["notes"].append(f"{server.label} predicts another class than scikit-learn on "
                                    f"{len(wrong)} clear-cut rows: is it the same model?")


def bodies(server: Server, workload: str) -> list[wrk.Body]:
    return [wrk.Body(rows, weight, server.body_path(rows)) for rows, weight in WORKLOADS[workload]]


def one_run(ctx: Context, server: Server, workload: str, rnd: int,
            args: argparse.Namespace) -> dict:
    assert server.proc is not None
    if not server.proc.alive():
        return {"round": rnd, "error": f"server exited ({server.proc.popen.returncode})"}
    status, answer = server.predict(max(rows for rows, _ in WORKLOADS[workload]))
    note = None if status == 200 else f"check request got HTTP {status}: {str(answer)[:200]}"
    stem = ctx.work / "wrk" / f"r{rnd}-{workload}-{server.name}"
    with procs.Sampler(server.proc):
        try:
            if args.warmup > 0:
                wrk.run(server.url, server.headers(), bodies(server, workload),
                        duration=args.warmup, spec_path=stem.with_suffix(".spec"))
            result = wrk.run(server.url, server.headers(), bodies(server, workload),
                             duration=args.duration, spec_path=stem.with_suffix(".spec"),
                             log_path=stem.with_suffix(".log"))
        except RuntimeError as exc:
            return {"round": rnd, "error": str(exc)}
    out = {"round": rnd, **result.to_dict()}
    if note:
        out["note"] = note
    return out


def measure(ctx: Context, started: list[Server], args: argparse.Namespace, results: dict) -> None:
    per_run = args.duration + args.warmup + 1
    total = per_run * len(started) * len(WORKLOADS) * args.rounds
    say(f"[load] {args.rounds} round(s) × {len(WORKLOADS)} workloads × {len(started)} servers, "
        f"~{total / 60:.0f} min")
    for rnd in range(1, args.rounds + 1):
        for workload in WORKLOADS:
            for server in started:
                run = one_run(ctx, server, workload, rnd, args)
                results["servers"][server.name]["runs"].setdefault(workload, []).append(run)
                if "error" in run:
                    say(f"  round {rnd} {workload:<6} {server.name:<14} FAILED: {run['error']}")
                    continue
                say(f"  round {rnd} {workload:<6} {server.name:<14} {run['rps']:>9,.0f} req/s "
                    f"{run['rows_per_s']:>10,.0f} rows/s  p50 {run['p50_ms']:7.2f} ms  "
                    f"p99 {run['p99_ms']:7.2f} ms  errors {run['error_count']}"
                    + (f"  ({run['note']})" if run.get("note") else ""))
    for server in started:
        assert server.proc is not None
        entry = results["servers"][server.name]
        entry["peak_rss_mb"] = server.proc.peak_rss_kb / 1000
        entry["hwm_sum_mb"] = server.proc.hwm_kb() / 1000
        entry["processes"] = len(server.proc.pids())


def in_process(ctx: Context, results: dict) -> None:
    say("[reference] onnxruntime in-process, no HTTP")
    try:
        out = prepare.sh([str(ctx.bin / "python"), "-m", "benchmarks.serving.inproc",
                          str(ctx.model_dir), "5"], cwd=REPO, timeout=300)
        results["inprocess"] = json.loads(out)
        say(f"  1-row: {results['inprocess']['1-row']['calls_per_s']:,.0f} calls/s; 64-row: "
            f"{results['inprocess']['64-row']['rows_per_s']:,.0f} rows/s")
    except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        say(f"  failed: {exc}")
        results["notes"].append(f"in-process reference failed: {exc}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    classes = servers.select(args.only)
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    work = Path(tempfile.mkdtemp(prefix="medmaas-bench-", dir="/tmp"))
    ctx = Context(work)
    say(f"serving benchmark: {', '.join(c.name for c in classes)}; scratch dir {work}")
    results: dict = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command_line(argv), "machine": prepare.machine(),
        "duration_s": args.duration, "warmup_s": args.warmup, "rounds": args.rounds,
        "connections": wrk.CONNECTIONS, "threads": wrk.THREADS, "scratch": str(work),
        "servers": {}, "notes": [],
    }
    started: list[Server] = []
    try:
        prepare.ensure_wrk()
        started = prepare_servers(ctx, classes, args, results)
        results["versions"] = prepare.versions(ctx)  # what was started, if src/ changes later
        sanity_check(ctx, started, results)
        measure(ctx, started, args, results)
        say("[stop] servers")
        for server in started:
            server.stop()
        in_process(ctx, results)
        if any(s.name == "medmaas" for s in started):
            say("[medmaas] start-up time and memory with ten models")
            try:
                results["medmaas_startup"] = memory.measure(ctx)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                say(f"  failed: {exc}")
                results["notes"].append(f"medmaas start-up/memory measurement failed: {exc}")
    except KeyboardInterrupt:
        say("interrupted: stopping servers")
        return 130
    finally:
        procs.stop_all()
    results.setdefault("versions", prepare.versions(ctx))
    results["elapsed_s"] = time.monotonic() - began
    print()
    print(report.console(results))
    report.write_json(results)
    if args.keep_scratch:
        say(f"\nraw numbers: {report.LATEST_JSON.relative_to(REPO)}; logs: {work}")
    else:  # hundreds of MB of models and homes per run: gone unless asked for
        shutil.rmtree(work, ignore_errors=True)
        say(f"\nraw numbers: {report.LATEST_JSON.relative_to(REPO)} (scratch removed; --keep-scratch keeps it)")
    if not args.no_write:
        report.write_markdown(results)
        say(f"wrote the Serving section of {report.RESULTS_MD.relative_to(REPO)}")
    say(f"took {results['elapsed_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
