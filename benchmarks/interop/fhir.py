"""FHIR Bundle -> RiskAssessment round trip on a live server, and what full validation costs.

``python -m benchmarks.interop.fhir [--repeats 40]``

Builds the heart-failure built-in (it carries a FHIR map) into a temporary home, serves it with
``medmaas serve`` in its own process, and posts every Synthea Bundle of ../shared/data/fhir/r4
(the three shipped examples when that is absent) with keep-alive, one request at a time:
latency p50/p95 with and without the SHAP rationale. Side by side, in this process and per
Bundle: what a user would otherwise write with fhir.resources — validate the whole Bundle with
its R4B models (``Bundle.model_validate``) before reading it — timed alone, without mapping or
predicting. Results go to benchmarks/interop/results/fhir-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.interop.live import percentiles, served_builtin

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "fhir" / "r4"
EXAMPLES = ROOT / "examples" / "fhir" / "r4"
RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "heart-failure-mortality"


def _bundles() -> tuple[list[Path], str]:
    if SHARED.is_dir() and any(SHARED.glob("*.json")):
        return sorted(SHARED.glob("*.json")), "shared Synthea set (35 patients)"
    return sorted(EXAMPLES.glob("*.json")), "the 3 shipped Synthea examples"


def _last_time(bundle: dict[str, Any]) -> str:
    return max(e["resource"]["effectiveDateTime"] for e in bundle["entry"]
               if e["resource"]["resourceType"] == "Observation" and "effectiveDateTime" in e["resource"])


def _full_validation(raw: bytes, repeats: int) -> float:
    """Median seconds to validate the whole Bundle with fhir.resources' R4B models."""
    from fhir.resources.R4B.bundle import Bundle

    data = orjson.loads(raw)
    Bundle.model_validate(data)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        Bundle.model_validate(orjson.loads(raw))
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=40, help="requests per Bundle and setting")
    parser.add_argument("--validation-repeats", type=int, default=5)
    args = parser.parse_args()
    paths, source = _bundles()
    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "bundles": source,
                              "command": "python -m benchmarks.interop.fhir", "per_bundle": []}
    with served_builtin(MODEL) as client:
        _measure(report, paths, client, args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"fhir-{datetime.now(UTC).strftime('%Y-%m-%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    _print(report)
    print(f"\nwrote {path.relative_to(ROOT)}")


def _measure(report: dict[str, Any], paths: list[Path], client: httpx.Client, args: Any) -> None:
    client.headers["Content-Type"] = "application/fhir+json"
    every: dict[str, list[float]] = {"explain": [], "no-explain": []}
    typical: dict[str, list[float]] = {"explain": [], "no-explain": []}
    for i, path in enumerate(paths):
        raw = path.read_bytes()
        bundle = orjson.loads(raw)
        n_obs = sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
        row: dict[str, Any] = {"file": path.name, "kb": len(raw) // 1024, "observations": n_obs}
        for setting in ("explain", "no-explain"):
            params = {"model": MODEL, "at": _last_time(bundle), "explain": str(setting == "explain").lower()}
            for _ in range(3):  # warm-up: model load, first SHAP call
                client.post("/fhir/r4/RiskAssessment/$predict", params=params, content=raw).raise_for_status()
            times = []
            for _ in range(args.repeats):
                began = time.perf_counter()
                response = client.post("/fhir/r4/RiskAssessment/$predict", params=params, content=raw)
                times.append(time.perf_counter() - began)
                response.raise_for_status()
            row[setting] = percentiles(times)
            every[setting] += times
            if 100 <= n_obs <= 999:
                typical[setting] += times
        row["fhir_resources_full_validation_ms"] = round(_full_validation(raw, args.validation_repeats) * 1e3, 2)
        row["full_validation_over_round_trip"] = round(
            row["fhir_resources_full_validation_ms"] / row["no-explain"]["p50_ms"], 2)
        report["per_bundle"].append(row)
        print(f"[{i + 1}/{len(paths)}] {path.name[:32]:32s} {row['kb']:5d} KB {n_obs:4d} obs  "
              f"round trip p50 {row['no-explain']['p50_ms']:6.1f} ms (with rationale "
              f"{row['explain']['p50_ms']:6.1f})  full R4B validation alone {row['fhir_resources_full_validation_ms']:7.1f} ms",
              flush=True)
    report["all"] = {k: percentiles(v) for k, v in every.items()}
    report["typical_100_to_999_observations"] = {k: percentiles(v) for k, v in typical.items() if v}
    ratios = sorted(r["full_validation_over_round_trip"] for r in report["per_bundle"])
    report["full_validation_over_round_trip_median"] = statistics.median(ratios)


def _print(report: dict[str, Any]) -> None:
    print(f"\n{report['bundles']}, {report['machine']}")
    for label in ("all", "typical_100_to_999_observations"):
        for setting, stats in report.get(label, {}).items():
            print(f"{label:34s} {setting:11s} p50 {stats['p50_ms']:6.1f} ms  p95 {stats['p95_ms']:6.1f} ms  (n={stats['n']})")
    print(f"fhir.resources full-Bundle validation alone / medmaas round trip (median over Bundles): "
          f"{report['full_validation_over_round_trip_median']:.1f}x")


if __name__ == "__main__":
    main()
