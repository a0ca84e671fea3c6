"""V2 inference (Open Inference Protocol, binary and JSON tensors) against /v1 JSON rows, same
model, same rows, one live server.

``python -m benchmarks.interop.v2_vs_v1 [--rows 64] [--requests 300] [--rounds 5]``

Builds the breast-cancer-wdbc built-in (30 numeric features) into a temporary home, serves it
with ``medmaas serve`` (uvicorn) in its own process on 127.0.0.1, and posts the first ``--rows``
rows of its CSV with one keep-alive httpx client, one request at a time, three ways:

- ``v2-binary``: ``POST /v2/models/{m}/infer``, the FP32 matrix as raw bytes after the JSON
  header (``Inference-Header-Content-Length``), outputs asked as binary — what tritonclient sends
  by default;
- ``v2-json``: the same request with the matrix as JSON ``data`` and JSON outputs;
- ``v1-json``: ``POST /v1/models/{m}/predict`` with ``{"rows": [{feature: value, ...}, ...]}``.

Bodies are built once, before timing; a response counts when its status is 200 (its body is
not parsed, for every way alike). The ways are interleaved: each round runs ``--requests`` of
each, in turn, after a warm-up, so a slow spell of the machine hits all three. Reported: p50 and
p95 latency per way over all rounds, and v2-binary p50 / v1-json p50 (the target: <= 1).
Results go to benchmarks/interop/results/v2-vs-v1-<time>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from benchmarks.interop.live import percentiles, served_builtin

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "breast-cancer-wdbc"
CSV = ROOT / "src" / "medmaas" / "builtin" / "data" / "breast_cancer_wdbc.csv"
HEADER = "Inference-Header-Content-Length"


def _rows(n: int) -> tuple[list[str], list[dict[str, float]]]:
    with CSV.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = [row for _, row in zip(range(n), reader, strict=False)]
    features = [c for c in rows[0] if c != "diagnosis"]
    return features, [{c: float(row[c]) for c in features} for row in rows]


def _requests(model: str, features: list[str], rows: list[dict[str, float]]) -> dict[str, tuple[str, bytes, dict[str, str]]]:
    """(path, body, headers) of each way, built once."""
    matrix = np.array([[row[c] for c in features] for row in rows], dtype=np.float32)
    shape = list(matrix.shape)
    raw = matrix.tobytes()
    header = orjson.dumps({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
                                       "parameters": {"binary_data_size": len(raw)}}],
                           "parameters": {"binary_data_output": True}})
    as_json = orjson.dumps({"inputs": [{"name": "input", "shape": shape, "datatype": "FP32",
                                        "data": matrix.reshape(-1).tolist()}]})
    return {
        "v2-binary": (f"/v2/models/{model}/infer", header + raw,
                      {HEADER: str(len(header)), "Content-Type": "application/octet-stream"}),
        "v2-json": (f"/v2/models/{model}/infer", as_json, {"Content-Type": "application/json"}),
        "v1-json": (f"/v1/models/{model}/predict", orjson.dumps({"rows": rows}),
                    {"Content-Type": "application/json"}),
    }


def _check(client: httpx.Client, ways: dict[str, tuple[str, bytes, dict[str, str]]], n: int) -> None:
    """Every way answers 200 with n predictions that name the same classes."""
    labels = {}
    for way, (path, body, headers) in ways.items():
        response = client.post(path, content=body, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{way}: {response.status_code} {response.text[:300]}")
        if way == "v1-json":
            labels[way] = [p["prediction"] for p in response.json()["predictions"]]
        elif way == "v2-json":
            labels[way] = next(o["data"] for o in response.json()["outputs"] if o["name"] == "label")
    if labels["v1-json"] != labels["v2-json"] or len(labels["v1-json"]) != n:
        raise SystemExit("v1 and v2 disagree on the labels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--requests", type=int, default=300, help="requests per way and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=100, help="requests per way before timing")
    args = parser.parse_args()
    features, rows = _rows(args.rows)
    ways = _requests(MODEL, features, rows)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "command": f"python -m benchmarks.interop.v2_vs_v1 --rows {args.rows} --requests {args.requests} "
                   f"--rounds {args.rounds}",
        "model": MODEL, "rows": args.rows, "features": len(features),
        "body_bytes": {way: len(body) for way, (_, body, _) in ways.items()},
    }
    with served_builtin(MODEL, ready_path="/v2/health/ready") as client:
        report["latency"] = _measure(client, ways, args)
    latency = report["latency"]
    report["v2_binary_over_v1_json_p50"] = round(latency["v2-binary"]["p50_ms"] / latency["v1-json"]["p50_ms"], 3)
    report["v2_json_over_v1_json_p50"] = round(latency["v2-json"]["p50_ms"] / latency["v1-json"]["p50_ms"], 3)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"v2-vs-v1-{datetime.now(UTC).strftime('%Y-%m-%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\n{MODEL}, {args.rows} rows × {len(features)} features, {report['machine']}")
    for way, stats in latency.items():
        print(f"{way:10s} p50 {stats['p50_ms']:6.2f} ms  p95 {stats['p95_ms']:6.2f} ms  "
              f"(n={stats['n']}, body {report['body_bytes'][way]} bytes)")
    print(f"v2-binary p50 / v1-json p50 = {report['v2_binary_over_v1_json_p50']:.2f}  "
          f"(v2-json / v1-json = {report['v2_json_over_v1_json_p50']:.2f})")
    print(f"\nwrote {path.relative_to(ROOT)}")


def _measure(client: httpx.Client, ways: dict[str, tuple[str, bytes, dict[str, str]]], args: Any) -> dict[str, Any]:
    _check(client, ways, args.rows)
    times: dict[str, list[float]] = {way: [] for way in ways}
    for path, body, headers in ways.values():
        for _ in range(args.warmup):
            client.post(path, content=body, headers=headers)
    for round_ in range(args.rounds):
        for way, (path, body, headers) in ways.items():
            for _ in range(args.requests):
                began = time.perf_counter()
                response = client.post(path, content=body, headers=headers)
                elapsed = time.perf_counter() - began
                if response.status_code != 200:
                    raise SystemExit(f"{way}: {response.status_code} {response.text[:300]}")
                times[way].append(elapsed)
        medians = ", ".join(f"{w} {statistics.median(t[-args.requests:]) * 1e3:.2f}" for w, t in times.items())
        print(f"round {round_ + 1}/{args.rounds}: p50 ms {medians}", flush=True)
    return {way: percentiles(t) for way, t in times.items()}


if __name__ == "__main__":
    main()
