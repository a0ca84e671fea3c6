"""How fast the dashboard is for its user, in a real browser: the catalog with 20 models, and
the tabular try-it round trip, each beside the same request sent straight to the API.

    python -m benchmarks.dashboard.run            # ~1 min; results printed and in RESULTS.md form

1. A throwaway data directory: ``breast-cancer-wdbc`` trained as the first start would train it,
   then registered under 19 more names (the same bundle), so the catalog lists 20 models; an
   admin key.
2. ``medmaas serve --no-builtin`` on loopback (rate limits off: one key sends everything).
3. Debian's Chromium, headless, driven by Playwright, one fresh browser context per run:
   - **catalog**: from the sign-in click to the 20 rows painted (the first paint of the catalog
     the user waits for), and the page's own first-contentful-paint on load; beside it, the
     ``GET /v1/models`` the page makes, sent alone with urllib;
   - **try it**: from the click on "Predict and explain" to the answer painted, for the wdbc
     form filled with a real row; beside it, the same ``POST /explain`` sent alone.
   Each is repeated (``--runs``, default 15) and reported as median and 90th percentile; the
   first run of each is a warm-up and not counted (the first explanation imports SHAP).

Targets (issue 9): catalog first paint <= 1 s with 20 models; try-it round trip <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.serving.procs import Proc, free_port, http, stop_all, wait_until

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
MODELS = 20


def prepare(home: Path) -> tuple[str, dict[str, Any]]:
    """Train wdbc once, register its bundle under 19 more names; an admin key and one row."""
    from medmaas.builtin.build import build_one
    from medmaas.builtin.catalog import builtin
    from medmaas.registry import Registry
    from medmaas.security.keys import KeyStore
    from medmaas.settings import Settings

    settings = Settings(home=home)
    registry = Registry.open(settings)
    try:
        build_one(builtin("breast-cancer-wdbc"), registry, None, lambda _m, _f: None)
        source = registry.resolve("breast-cancer-wdbc", None)
        bundle = registry.bundle_path(source)
        for i in range(1, MODELS):
            info = registry.register_version(
                f"screening-model-{i:02d}", bundle, kind=source.kind, task=source.task, created_by="benchmark",
                metrics=source.metrics, spec=source.spec, card=source.card,
                headline={"name": source.headline.name, "value": source.headline.value,
                          "ci": list(source.headline.ci) if source.headline and source.headline.ci else None}
                if source.headline else None)
            registry.promote(info.model_name, info.version, "production", actor="benchmark")
        key, _ = KeyStore(registry, settings.resolved_secret()).create("bench", "admin", created_by="benchmark")
    finally:
        registry.close()
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    return key, {k: float(v) for k, v in frame.iloc[0].items()}


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered), 1),
            "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1), "n": len(ordered)}


def measure(base: str, key: str, row: dict[str, Any], runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    catalog, fcp, tryit = [], [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for run in range(runs + 1):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(base + "/")
            page.get_by_label("API key").fill(key)
            started = page.evaluate("() => performance.now()")
            page.get_by_role("button", name="Sign in").click()
            # (not wait_for_function: its string predicate is an eval, which the page's CSP refuses)
            page.locator("table tbody tr").nth(MODELS - 1).wait_for()
            # The next animation frame after the rows exist is when they are on screen.
            painted = page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(performance.now())))")
            first = page.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
            page.goto(base + "/#/models/breast-cancer-wdbc")
            page.get_by_role("button", name="Predict and explain").wait_for()
            for name, value in row.items():
                page.locator(f"[name='{name}']").fill(str(value))
            clicked = page.evaluate("() => performance.now()")
            page.get_by_role("button", name="Predict and explain").click()
            page.locator("#prediction").wait_for()
            answered = page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(performance.now())))")
            if run:  # the first is a warm-up: SHAP's import, the model's first load
                catalog.append(painted - started)
                tryit.append(answered - clicked)
                if first is not None:
                    fcp.append(first)
            context.close()
        browser.close()
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    api_catalog, api_explain = [], []
    body = json.dumps({"rows": [row], "top_k": 6}).encode()
    for _ in range(runs):
        began = time.perf_counter()
        assert http("GET", base + "/v1/models", headers=auth)[0] == 200
        api_catalog.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        assert http("POST", base + "/v1/models/breast-cancer-wdbc/explain", body=body, headers=auth)[0] == 200
        api_explain.append((time.perf_counter() - began) * 1000)
    return {"catalog_after_sign_in": _stats(catalog), "first_contentful_paint": _stats(fcp),
            "api_get_models": _stats(api_catalog), "try_it_round_trip": _stats(tryit),
            "api_post_explain": _stats(api_explain)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing: run scripts/browser.sh first", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="medmaas-dashboard-bench-"))
    try:
        home = work / "home"
        began = time.perf_counter()
        key, row = prepare(home)
        print(f"prepared {MODELS} models in {time.perf_counter() - began:.0f} s", flush=True)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDMAAS_")}
        env["MEDMAAS_RATE_LIMIT_PER_S"] = "0"
        server = Proc("medmaas", [sys.executable, "-m", "medmaas.cli.main", "--home", str(home), "serve",
                                  "--no-builtin", "--host", "127.0.0.1", "--port", str(port)],
                      env=env, cwd=REPO, log=work / "server.log")
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http("GET", base + "/readyz")[0] == 200, server, 120)
        results = measure(base, key, row, args.runs)
        server.stop()
        load = os.getloadavg()
        report = {"models": MODELS, "runs": args.runs, "load_average_after": [round(v, 2) for v in load], **results}
        print(json.dumps(report, indent=2))
        c, a = results["catalog_after_sign_in"], results["api_get_models"]
        t, e = results["try_it_round_trip"], results["api_post_explain"]
        print(f"\ncatalog of {MODELS} models painted {c['median_ms']} ms after sign-in (p90 {c['p90_ms']}; "
              f"target <= 1000); GET /v1/models alone {a['median_ms']} ms: x{c['median_ms'] / a['median_ms']:.1f}")
        print(f"try-it round trip {t['median_ms']} ms (p90 {t['p90_ms']}; target <= 200); POST /explain alone "
              f"{e['median_ms']} ms: x{t['median_ms'] / e['median_ms']:.2f}")
        return 0
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
