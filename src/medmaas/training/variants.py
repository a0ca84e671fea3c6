"""ONNX variants of a model (int8, ...) measured against model.onnx, and the one to serve.

A variant is served only if it costs no more than ``MAX_QUALITY_DROP`` in AUROC and accuracy
on the hold-out split and is faster at batch size 1 (the size a patient's request has);
otherwise the card says why it was not.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.bundle.card import VariantResult
from medmaas.bundle.spec import ModelSpec
from medmaas.kinds.base import Batch

MAX_QUALITY_DROP = 0.01
BATCH_SIZES = (1, 32)


def median_ms(run: Any, feeds: dict[str, np.ndarray], repeats: int) -> float:
    """Median wall time of ``run(feeds)`` after two warm-up calls."""
    for _ in range(2):
        run(feeds)
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        run(feeds)
        times.append((time.perf_counter() - began) * 1000)
    return round(float(np.median(times)), 3)


def latency(run: Any, batch: Batch) -> dict[str, float]:
    out = {}
    for size in BATCH_SIZES:
        if batch.n == 0:
            break
        index = np.arange(size) % batch.n
        feeds = {k: v[index] for k, v in batch.feeds.items()}
        out[str(size)] = median_ms(run, feeds, repeats=30 if size == 1 else 10)
    return out


def quality(y: np.ndarray, scores: np.ndarray, threshold: float | None) -> dict[str, float | None]:
    from sklearn.metrics import roc_auc_score

    if scores.ndim != 2 or len(np.unique(y)) < 2:
        return {}
    if scores.shape[1] == 2:
        cut = 0.5 if threshold is None else threshold
        return {"auroc": round(float(roc_auc_score(y, scores[:, 1])), 4),
                "accuracy": round(float(np.mean((scores[:, 1] >= cut) == y)), 4)}
    from sklearn.metrics import f1_score

    labels = list(range(scores.shape[1]))
    return {"auroc_macro": round(float(roc_auc_score(y, scores, multi_class="ovr", labels=labels)), 4),
            "accuracy": round(float(np.mean(scores.argmax(1) == y)), 4),
            "macro_f1": round(float(f1_score(y, scores.argmax(1), average="macro", labels=labels)), 4)}


def compare_variants(bundle: Path, spec: ModelSpec, batch: Batch, y: np.ndarray,
                     reference: Any, ref_scores: np.ndarray) -> tuple[list[VariantResult], str]:
    """Measure every variant of ``spec`` against ``reference`` (the loaded model.onnx, whose
    hold-out scores are ``ref_scores``) on the hold-out ``batch``; returns the results and the
    file to serve."""
    from medmaas.runtime.loaded import load_bundle

    if not spec.onnx.variants:
        return [], "model.onnx"
    threshold = spec.output.threshold
    ref_quality = quality(y, ref_scores, threshold)
    ref_latency = latency(reference.run, batch)
    results, serve = [], "model.onnx"
    for name, file in spec.onnx.variants.items():
        loaded = load_bundle(bundle, warm_up=False, onnx_file=file)
        scores = loaded.kind.scores(spec, loaded.run(batch.feeds))
        got = quality(y, scores, threshold)
        speed = latency(loaded.run, batch)
        drops = {m: (ref_quality[m] or 0.0) - (got.get(m) or 0.0) for m in ref_quality}
        worst = max(drops.values(), default=0.0)
        faster = speed.get("1", float("inf")) < ref_latency.get("1", 0.0)
        ok = worst <= MAX_QUALITY_DROP and faster and serve == "model.onnx"
        reason = (f"largest metric drop {worst:+.4f} (limit {MAX_QUALITY_DROP}), "
                  f"batch-1 latency {speed.get('1')} vs {ref_latency.get('1')} ms")
        results.append(VariantResult(
            name=name, file=file, metrics=got, reference_metrics=ref_quality,
            max_probability_difference=round(float(np.abs(scores - ref_scores).max()), 6),
            latency_ms=speed, reference_latency_ms=ref_latency, served=ok, reason=reason))
        if ok:
            serve = file
    return results, serve
