"""The step-up that finds the soak's capacity, and the rule that decides it.

1. **Saturation probe.** ``PROBE_USERS`` users send the mix closed-loop (the next request as soon
   as the last one answered) for one step: the rate they reach, ``X``, is about the most this
   machine serves, load generator included.
2. **Steps.** The paced mix (``constant_throughput`` per user, users × rate = the offered rate)
   at ``FRACTIONS`` of ``X``, lowest first, each for one step (the first ``settle`` seconds are
   not counted). The lowest step is the baseline: its p99 is the unloaded tail.
3. **Rule.** A step is *sustained* when all three hold:
   - no errors: every response 2xx, no connection error;
   - the rate held: completed requests/s >= ``RATE_HELD`` × the offered rate;
   - p99 bounded: p99 <= max(``P99_FACTOR`` × baseline p99, baseline p99 + ``P99_SLACK_MS``).
   The capacity is the offered rate of the highest sustained step; the climb stops at the first
   step that is not. Its resolution is the grid of ``FRACTIONS`` (about 10 % of ``X``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from benchmarks.serving.procs import Proc
from benchmarks.soak.load import Load, Recorder, cpu_seconds, own_cpu_seconds
from benchmarks.soak.locustfile import PER_USER_RATE

PROBE_USERS = 32
FRACTIONS = (0.25, 0.5, 0.65, 0.8, 0.9, 1.0, 1.1, 1.25)
RATE_HELD = 0.95
P99_FACTOR = 3.0
P99_SLACK_MS = 10.0

RULE = (f"a step is sustained when it has no errors (every response 2xx, no connection error), completes "
        f">= {RATE_HELD:.0%} of the offered rate, and its p99 <= max({P99_FACTOR:g} x the baseline step's "
        f"p99, baseline p99 + {P99_SLACK_MS:g} ms); capacity = the highest sustained offered rate, "
        f"stepping {', '.join(f'{f:g}' for f in FRACTIONS)} x the closed-loop rate of {PROBE_USERS} users "
        f"and stopping at the first step that is not sustained")


def measure(load: Load, recorder: Recorder, server: Proc, users: int, *, seconds: float, settle: float,
            closed_loop: bool = False) -> dict[str, Any]:
    """Run ``users`` for ``seconds``; the summary of the part after ``settle``, with CPU use."""
    load.start(users, closed_loop=closed_loop, spawn_seconds=min(2.0, settle))
    time.sleep(settle)
    pids = server.pids()
    server_cpu, own_cpu, began = cpu_seconds(pids), own_cpu_seconds(), time.monotonic()
    window = recorder.open()
    time.sleep(max(1.0, seconds - settle))
    recorder.close()
    elapsed = time.monotonic() - began
    summary = window.summary(elapsed)
    summary["users"] = users
    summary["server_cpu_cores"] = round((cpu_seconds(server.pids()) - server_cpu) / elapsed, 2)
    summary["generator_cpu_cores"] = round((own_cpu_seconds() - own_cpu) / elapsed, 2)
    return summary


def sustained(step: dict[str, Any], baseline_p99: float) -> tuple[bool, str]:
    """Whether a step meets the rule, and why not."""
    bound = max(P99_FACTOR * baseline_p99, baseline_p99 + P99_SLACK_MS)
    if step["errors"]:
        return False, f"{step['errors']} errors"
    if step["rps"] < RATE_HELD * step["offered_rps"]:
        return False, f"completed {step['rps']:.0f} of {step['offered_rps']:.0f} req/s offered"
    if step["p99_ms"] > bound:
        return False, f"p99 {step['p99_ms']:.1f} ms > bound {bound:.1f} ms"
    return True, ""


def step_up(load: Load, recorder: Recorder, server: Proc, *, step_seconds: float, settle: float,
            say: Callable[[str], None]) -> dict[str, Any]:
    """The probe and the steps; returns {"capacity_rps", "probe", "steps", "rule", ...}."""
    probe = measure(load, recorder, server, PROBE_USERS, seconds=step_seconds, settle=settle,
                    closed_loop=True)
    load.stop()
    say(f"  closed loop, {PROBE_USERS} users: {probe['rps']:.0f} req/s, p50 {probe['p50_ms']:.1f} ms, "
        f"p99 {probe['p99_ms']:.1f} ms, errors {probe['errors']}, CPU server {probe['server_cpu_cores']:.2f} "
        f"/ generator {probe['generator_cpu_cores']:.2f} cores")
    steps: list[dict[str, Any]] = []
    capacity = 0.0
    baseline_p99 = 0.0
    for fraction in FRACTIONS:
        users = max(1, math.ceil(fraction * probe["rps"] / PER_USER_RATE))
        step = measure(load, recorder, server, users, seconds=step_seconds, settle=settle)
        step["fraction"] = fraction
        step["offered_rps"] = round(users * PER_USER_RATE, 1)
        if not steps:
            baseline_p99 = step["p99_ms"]
        ok, why = sustained(step, baseline_p99)
        step["sustained"], step["why_not"] = ok, why
        steps.append(step)
        say(f"  offered {step['offered_rps']:6.0f} req/s ({fraction:.2f} x): completed {step['rps']:6.0f}, "
            f"p50 {step['p50_ms']:5.1f} ms, p99 {step['p99_ms']:6.1f} ms, errors {step['errors']}, "
            f"CPU server {step['server_cpu_cores']:.2f} / generator {step['generator_cpu_cores']:.2f}  "
            + ("sustained" if ok else f"NOT sustained: {why}"))
        if not ok:
            break
        capacity = step["offered_rps"]
    load.stop()
    return {"capacity_rps": capacity, "probe": probe, "steps": steps, "rule": RULE,
            "baseline_p99_ms": baseline_p99, "step_seconds": step_seconds, "settle_seconds": settle,
            "per_user_rate": PER_USER_RATE}
