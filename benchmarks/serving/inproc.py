"""Reference: onnxruntime in-process, no HTTP, on the same ONNX model as the ceiling.

``python -m benchmarks.serving.inproc MODEL_DIR SECONDS`` prints one JSON object: calls/s of
1-row calls, rows/s of 64-row calls and their median call times (one intra-op thread).
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .prepare import CSV


def _bench(session: ort.InferenceSession, x: np.ndarray, seconds: float) -> dict[str, float]:
    for _ in range(200):
        session.run(["probabilities"], {"input": x})
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        session.run(["probabilities"], {"input": x})
        times.append(time.perf_counter() - t0)
    total = sum(times)
    return {"calls_per_s": len(times) / total, "rows_per_s": len(times) * len(x) / total,
            "median_us": statistics.median(times) * 1e6}


def main(model_dir: str, seconds: float) -> None:
    features = json.loads((Path(model_dir) / "meta.json").read_text())["features"]
    with CSV.open(newline="") as f:
        rows = [[float(r[c]) for c in features] for r in csv.DictReader(f)]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(Path(model_dir) / "model.onnx"), options,
                                   providers=["CPUExecutionProvider"])
    out = {
        "1-row": _bench(session, np.array(rows[:1], dtype=np.float32), seconds),
        "64-row": _bench(session, np.array(rows[:64], dtype=np.float32), seconds),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
