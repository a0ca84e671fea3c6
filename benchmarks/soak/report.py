"""The soak's verdict, and the results as JSON and markdown.

Checks (all must pass; the run exits 1 otherwise):

- no 5xx, and no errors at all (any non-2xx status or connection error), over the whole soak
  including its warm-up;
- the rate held: completed requests/s over the soak >= ``RATE_HELD`` × the target rate;
- p99 stable: the last window's p99 <= max(``P99_STABLE_FACTOR`` × the first window's,
  first + ``P99_STABLE_SLACK_MS``); only an increase fails;
- memory: the server's RSS (its whole process tree) grows less than ``RSS_GROWTH_MAX_PCT`` from
  the end of the first window (the warmed-up server) to the end of the last;
- the server is still running at the end.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from benchmarks.soak.capacity import RATE_HELD

P99_STABLE_FACTOR = 1.5
P99_STABLE_SLACK_MS = 5.0
RSS_GROWTH_MAX_PCT = 10.0


def machine() -> dict[str, Any]:
    """The serving benchmark's description of the machine, and what a soak result also needs."""
    from benchmarks.serving.prepare import machine as described

    base = described()
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": base["cpu"],
            "cpu_count": os.cpu_count(), "usable_cpus": int(base["nproc"]), "ram": base["ram"],
            "python": platform.python_version()}


def _check(name: str, rule: str, measured: str, passed: bool) -> dict[str, Any]:
    return {"check": name, "rule": rule, "measured": measured, "passed": passed}


def judge(soak: dict[str, Any], server_alive: bool) -> list[dict[str, Any]]:
    total, windows, rss = soak["total"], soak["windows"], soak["rss"]
    first, last = windows[0]["p99_ms"], windows[-1]["p99_ms"]
    bound = max(P99_STABLE_FACTOR * first, first + P99_STABLE_SLACK_MS)
    return [
        _check("no 5xx", "0 responses with status >= 500", str(total["status_5xx"]), total["status_5xx"] == 0),
        _check("no errors", "0 non-2xx responses and 0 connection errors",
               f"{total['non_2xx']} non-2xx, {total['transport_errors']} connection errors", total["errors"] == 0),
        _check("rate held", f">= {RATE_HELD:.0%} of the target {soak['target_rps']:.0f} req/s",
               f"{total['rps']:.0f} req/s", total["rps"] >= RATE_HELD * soak["target_rps"]),
        _check("p99 stable", f"last window p99 <= max({P99_STABLE_FACTOR:g} x first, first + "
               f"{P99_STABLE_SLACK_MS:g} ms) = {bound:.1f} ms",
               f"first {first:.1f} ms, last {last:.1f} ms", last <= bound),
        _check("RSS growth", f"< {RSS_GROWTH_MAX_PCT:g} % from the end of window 1 to the end",
               f"{rss['start_mb']:.1f} -> {rss['end_mb']:.1f} MB ({rss['growth_pct']:+.1f} %)",
               rss["growth_pct"] < RSS_GROWTH_MAX_PCT),
        _check("server alive", "the server process is still running at the end",
               "running" if server_alive else "exited", server_alive),
    ]


def write(report: dict[str, Any], out: Path, stamp: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / f"soak-{stamp}.json", out / f"soak-{stamp}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def markdown(r: dict[str, Any]) -> str:
    m, cap, soak = r["machine"], r["capacity"], r["soak"]
    rss, total = soak["rss"], soak["total"]
    lines = [
        f"# Soak run {r['date']}: {'PASS' if r['passed'] else 'FAIL'}", "",
        f"Command: `{r['command']}`", "",
        f"Machine: {m['cpu']}, {m['cpu_count']} CPUs ({m['usable_cpus']} usable), {m['ram']} RAM, "
        f"{m['platform']}, Python {m['python']}; load average {r['load_average_before']} before the run, "
        f"{r['load_average_after']} after. The load generator (locust, in the harness's process) shares "
        "these CPUs with the server.", "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()) + ".", "",
        f"Server: `medmaas serve --no-builtin` on 127.0.0.1, one process (plus its audit writer), "
        f"models {', '.join(r['models'])}; environment {r['server_env']}.", "",
        "## Verdict", "",
        *_table(["check", "rule", "measured", "result"],
                [[c["check"], c["rule"], c["measured"], "pass" if c["passed"] else "**FAIL**"]
                 for c in r["checks"]]),
        "", "## Unloaded", "",
        "Each request type sent alone after start-up: the first request, then the median of the next ten "
        f"(one at a time), and the server's RSS after them (it was {r['soak']['rss']['ready_mb']:.1f} MB when ready).", "",
        *_table(["request", "first ms", "then median ms", "server RSS MB after"],
                [[name, u["first_ms"], u["median_ms"], u["rss_mb_after"]] for name, u in r["unloaded"].items()]),
        "", "## Capacity", "",
    ]
    if cap.get("given"):
        lines.append(f"Given on the command line: {cap['capacity_rps']:.0f} req/s (no step-up).")
    else:
        probe = cap["probe"]
        lines += [
            f"Rule: {cap['rule']}. Each step {cap['step_seconds']:g} s, the first {cap['settle_seconds']:g} s "
            f"not counted; {cap['per_user_rate']:g} req/s per user.", "",
            f"Closed loop ({probe['users']} users): {probe['rps']:.0f} req/s, p50 {probe['p50_ms']} ms, "
            f"p99 {probe['p99_ms']} ms, {probe['errors']} errors.", "",
            *_table(["offered req/s", "x closed loop", "users", "completed req/s", "p50 ms", "p99 ms", "errors",
                     "server CPU (cores)", "generator CPU (cores)", "sustained"],
                    [[f"{s['offered_rps']:.0f}", f"{s['fraction']:g}", s["users"], f"{s['rps']:.0f}", s["p50_ms"],
                      s["p99_ms"], s["errors"], s["server_cpu_cores"], s["generator_cpu_cores"],
                      "yes" if s["sustained"] else f"no: {s['why_not']}"] for s in cap["steps"]]),
            "", f"**Capacity: {cap['capacity_rps']:.0f} req/s.**",
        ]
    lines += [
        "", "## Soak", "",
        f"Target {soak['target_rps']:.0f} req/s ({soak['load_fraction']:.0%} of capacity): {soak['users']} users at "
        f"{soak['per_user_rate']:g} req/s each, for {soak['duration_s']:g} s after a {soak['warmup_s']:g} s warm-up; "
        f"windows of {soak['window_s']:g} s. Completed {total['requests']} requests, {total['rps']:.0f} req/s, "
        f"p50 {total['p50_ms']} ms, p99 {total['p99_ms']} ms, {total['status_5xx']} 5xx, {total['non_2xx']} non-2xx, "
        f"{total['transport_errors']} connection errors (errors count from the start of the warm-up; latency "
        "and req/s from the windows).", "",
        *_table(["window", "ends at s", "req/s", "p50 ms", "p99 ms", "max ms", "5xx", "non-2xx", "conn. errors",
                 "server RSS MB", "server CPU (cores)"],
                [[w["window"], w["ends_at_s"], f"{w['rps']:.0f}", w["p50_ms"], w["p99_ms"], w["max_ms"], w["status_5xx"],
                  w["non_2xx"], w["transport_errors"], w["rss_mb"], w["server_cpu_cores"]] for w in soak["windows"]]),
        "", "Per request type (warm-up and windows):", "",
        *_table(["request", "count", "p50 ms", "p99 ms", "max ms", "errors"],
                [[name, s["requests"], s["p50_ms"], s["p99_ms"], s["max_ms"], s["errors"]]
                 for name, s in soak["by_request"].items()]),
        "", f"Memory (RSS of the server's process tree, sampled every {soak['sample_every_s']:g} s): "
        f"{rss['start_mb']:.1f} MB at the end of window 1, {rss['end_mb']:.1f} MB at the end "
        f"({rss['growth_pct']:+.1f} %); peak {rss['peak_mb']:.1f} MB; trend after window 1 "
        f"{rss['slope_mb_per_min']:+.2f} MB/min (least squares). When the server became ready: {rss['ready_mb']:.1f} MB.", "",
        *_table(["process", "RSS MB at end of window 1", "RSS MB at end"],
                [[name, v["start_mb"], v["end_mb"]] for name, v in rss["processes"].items()]),
        "", f"Server log during the run: {r['server_log']['errors']} error lines, {r['server_log']['warnings']} "
        f"warnings; while stopping (SIGTERM to the server): {r['server_log_at_stop']['errors']} error lines.",
    ]
    for line in r["server_log"]["samples"] + r["server_log_at_stop"]["samples"]:
        lines.append(f"    {line}")
    if soak["error_samples"]:
        lines += ["", "First failed requests:", ""]
        lines += [f"- {e['request']}: status {e['status']} {e['error']} {e['body']}".rstrip()
                  for e in soak["error_samples"]]
    return "\n".join(lines) + "\n"


def summary(r: dict[str, Any]) -> str:
    soak, rss, total = r["soak"], r["soak"]["rss"], r["soak"]["total"]
    failed = [c["check"] for c in r["checks"] if not c["passed"]]
    return "\n".join([
        f"capacity {r['capacity']['capacity_rps']:.0f} req/s; soak at {soak['target_rps']:.0f} req/s for "
        f"{soak['duration_s']:g} s: {total['rps']:.0f} req/s, p50 {total['p50_ms']} ms, p99 {total['p99_ms']} ms, "
        f"{total['status_5xx']} 5xx, {total['errors']} errors",
        f"p99 first/last window {soak['windows'][0]['p99_ms']} / {soak['windows'][-1]['p99_ms']} ms; RSS "
        f"{rss['start_mb']:.1f} -> {rss['end_mb']:.1f} MB ({rss['growth_pct']:+.1f} %)",
        "PASS" if r["passed"] else f"FAIL: {', '.join(failed)}",
    ])
