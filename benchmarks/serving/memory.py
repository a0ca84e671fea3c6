"""medmaas start-up time and memory with ten models loaded.

Ten copies of the benchmark model are registered (see medmaas_copies.py), then
``medmaas serve --no-builtin`` is started three times; each start is timed from launch to the
first 200 of GET /readyz. The last server then gets one prediction for each of the ten models,
and its peak RSS (VmHWM, summed over its process tree) is read.
"""

from __future__ import annotations

import os
import statistics
import time

from .prepare import REPO, Context, say, sh
from .procs import Proc, Sampler, free_port, http, wait_until

COPIES = 10
STARTS = 3
START_TIMEOUT = 120.0


def register_copies(ctx: Context) -> tuple[list[str], str]:
    """Names of ten production models in ctx's home, and how they were made."""
    env = {**os.environ, "MEDMAAS_HOME": str(ctx.medmaas_home)}
    try:
        out = sh([str(ctx.bin / "python"), "-m", "benchmarks.serving.medmaas_copies",
                  str(ctx.medmaas_home), ctx.medmaas_model, str(COPIES)],
                 env=env, cwd=REPO, timeout=300)
        names = out.split()
        if len(names) == COPIES:
            return names, "the benchmark bundle registered under ten names through the registry API"
    except RuntimeError as exc:
        say(f"  registering copies through the registry API failed ({exc}); "
            "training ten models instead (slow)")
    names = []
    for seed in range(COPIES):
        name = f"{ctx.medmaas_model}-seed{seed}"
        sh([str(ctx.bin / "medmaas"), "train", str(REPO / "src/medmaas/builtin/data/"
                                                 "breast_cancer_wdbc.csv"),
            "--target", "diagnosis", "--name", name, "--candidates", "gradient-boosting",
            "--bootstrap", "100", "--seed", str(seed)], env=env, timeout=1200)
        sh([str(ctx.bin / "medmaas"), "models", "promote", name, "1", "--stage", "production"],
           env=env, timeout=120)
        names.append(name)
    return names, "ten models trained by medmaas train with seeds 0-9"


def measure(ctx: Context) -> dict[str, object]:
    names, how = register_copies(ctx)
    env = {**os.environ, "MEDMAAS_HOME": str(ctx.medmaas_home), "MEDMAAS_RATE_LIMIT_PER_S": "0"}
    body = ctx.work / "bodies" / "medmaas-1.json"
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {ctx.medmaas_key}"}
    ready_times: list[float] = []
    result: dict[str, object] = {"models": len(names), "how": how}
    for start in range(STARTS):
        port = free_port()
        proc = Proc("medmaas-startup", [str(ctx.bin / "medmaas"), "serve", "--no-builtin",
                                        "--host", "127.0.0.1", "--port", str(port)],
                    env=env, cwd=ctx.work, log=ctx.work / "logs" / "medmaas-startup.log")
        try:
            ready = f"http://127.0.0.1:{port}/readyz"
            ready_times.append(wait_until(lambda u=ready: http("GET", u, timeout=2)[0] == 200,
                                          proc, START_TIMEOUT, interval=0.01))
            say(f"  start {start + 1}: ready after {ready_times[-1]:.2f} s")
            if start == STARTS - 1:
                result.update(_ten_models(ctx, proc, port, names, body.read_bytes(), headers))
        finally:
            proc.stop()
        time.sleep(0.5)
    result["ready_s"] = ready_times
    result["ready_median_s"] = statistics.median(ready_times)
    return result


def _ten_models(ctx: Context, proc: Proc, port: int, names: list[str], body: bytes,
                headers: dict[str, str]) -> dict[str, object]:
    statuses = {}
    with Sampler(proc):
        before = proc.hwm_kb()
        for name in names:
            status, _ = http("POST", f"http://127.0.0.1:{port}/v1/models/{name}/predict",
                             body=body, headers=headers, timeout=60)
            statuses[name] = status
        time.sleep(0.3)
    failed = {n: s for n, s in statuses.items() if s != 200}
    if failed:
        say(f"  predictions that failed: {failed}")
    hwm = proc.hwm_kb()
    say(f"  peak RSS with {len(names)} models loaded: {hwm / 1000:.0f} MB "
        f"(after start-up, before any prediction: {before / 1000:.0f} MB)")
    return {"peak_rss_mb": hwm / 1000, "rss_ready_mb": before / 1000,
            "sampled_peak_rss_mb": proc.peak_rss_kb / 1000,
            "predict_ok": len(names) - len(failed), "predict_failed": failed}
