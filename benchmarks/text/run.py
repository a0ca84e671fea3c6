"""Note classification on the Druglib.com side-effect reviews: the fine-tuned MiniLM encoder
against the TF-IDF + logistic regression baseline, and int8 ONNX against PyTorch fp32.

    python -m benchmarks.text.run                 # seed 0 (about 20 minutes on two cores)
    python -m benchmarks.text.run --seeds 0 1 2

Both candidates are trained exactly as the built-in model ``drug-review-side-effects`` trains
them (the text kind, notes de-identified, the same 80/20 stratified hold-out per seed, 15% of
the training part for validation), each on its own so that both are scored on the hold-out.
Reported: macro-F1 with a 95% bootstrap CI, the paired bootstrap CI of the difference, accuracy,
and for MiniLM the batch-1 latency per note of PyTorch eager fp32, ONNX fp32 and ONNX int8 (one
thread each, the same 200 hold-out notes) and the int8 model's macro-F1 (one note per call, as
served). Results go to
benchmarks/text/results/<date>.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
N_BOOT = 1000
LATENCY_NOTES = 200


def _read() -> Any:
    from medmaas.builtin.build import _read
    from medmaas.builtin.catalog import builtin

    return _read(builtin("drug-review-side-effects"))


def _macro_f1(y: np.ndarray, predicted: np.ndarray, k: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, predicted, average="macro", labels=list(range(k))))


def _bootstrap(y: np.ndarray, preds: dict[str, np.ndarray], k: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in preds}
    diffs = []
    for _ in range(N_BOOT):
        index = rng.integers(0, len(y), len(y))
        scores = {name: _macro_f1(y[index], p[index], k) for name, p in preds.items()}
        for name, value in scores.items():
            draws[name].append(value)
        if {"minilm", "tfidf"} <= set(scores):
            diffs.append(scores["minilm"] - scores["tfidf"])
    out: dict[str, Any] = {name: [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)]
                           for name, v in draws.items()}
    if diffs:
        out["minilm_minus_tfidf"] = [round(float(np.percentile(diffs, 2.5)), 4),
                                     round(float(np.percentile(diffs, 97.5)), 4)]
    return out


def _speed(kind: Any, test: Any, bundle: Path) -> dict[str, Any]:
    """Per-note batch-1 latency (median ms) and the int8 model's predictions."""
    import onnxruntime as ort
    import torch

    from medmaas.kinds.text.export import IDS, MASK
    from medmaas.kinds.text.tokens import encode

    torch.set_num_threads(1)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sessions = {f: ort.InferenceSession(str(bundle / f), options, providers=["CPUExecutionProvider"])
                for f in ("model.onnx", "model.int8.onnx")}
    encoded = encode(kind.tokenizer_, test.texts)
    notes = [(encoded.ids[i:i + 1, :encoded.mask[i].sum()], encoded.mask[i:i + 1, :encoded.mask[i].sum()])
             for i in range(min(LATENCY_NOTES, len(test.texts)))]
    model = kind.model_.eval()

    def timed(fn: Any) -> float:
        for ids, mask in notes[:5]:
            fn(ids, mask)
        times = []
        for ids, mask in notes:
            began = time.perf_counter()
            fn(ids, mask)
            times.append((time.perf_counter() - began) * 1000)
        return round(float(np.median(times)), 3)

    with torch.no_grad():
        torch_ms = timed(lambda i, m: model(torch.from_numpy(i), torch.from_numpy(m)))
    onnx_ms = {f: timed(lambda i, m, s=s: s.run(None, {IDS: i, MASK: m})) for f, s in sessions.items()}
    # One note per call, as the server runs a dynamically quantized file.
    int8 = [sessions["model.int8.onnx"].run(None, {IDS: encoded.ids[i:i + 1, :n], MASK: encoded.mask[i:i + 1, :n]})[0]
            for i, n in enumerate(encoded.mask.sum(1))]
    return {"latency_ms_batch1": {"pytorch_fp32": torch_ms, "onnx_fp32": onnx_ms["model.onnx"],
                                  "onnx_int8": onnx_ms["model.int8.onnx"]},
            "int8_speedup_vs_pytorch": round(torch_ms / onnx_ms["model.int8.onnx"], 2),
            "int8_predicted": np.concatenate(int8).argmax(1)}


def run_seed(dataset: Any, seed: int, epochs: int) -> dict[str, Any]:
    from medmaas.kinds.text.kind import TextKind

    out: dict[str, Any] = {"seed": seed}
    preds: dict[str, np.ndarray] = {}
    k = len(dataset.classes)
    test_y = None
    for name in ("tfidf", "minilm"):
        kind = TextKind(candidates=[name], epochs=epochs, max_tokens=256, random_state=seed)
        train, test, _ = kind.split(dataset)
        began = time.perf_counter()
        last = [0.0]

        def progress(message: str, fraction: float, _name: str = name, _last: list[float] = last) -> None:
            if time.perf_counter() - _last[0] > 30 or fraction >= 1.0:
                _last[0] = time.perf_counter()
                print(f"  seed {seed} {_name}: {fraction:5.1%} {message}", flush=True)

        kind.fit(train, progress)
        seconds = time.perf_counter() - began
        proba = kind.predict_native(test)
        test_y = test.y
        preds[name] = proba.argmax(1)
        out[name] = {"macro_f1": round(_macro_f1(test.y, preds[name], k), 4),
                     "accuracy": round(float(np.mean(preds[name] == test.y)), 4),
                     "validation_macro_f1": round(kind.val_macro_f1_, 4), "train_seconds": round(seconds, 1),
                     "details": kind.details_.get(name)}
        if name == "minilm":
            with tempfile.TemporaryDirectory() as tmp:
                kind.export(Path(tmp), train)
                speed = _speed(kind, test, Path(tmp))
            int8_pred = speed.pop("int8_predicted")
            out["minilm"].update(speed)
            out["minilm"]["int8_macro_f1"] = round(_macro_f1(test.y, int8_pred, k), 4)
            out["minilm"]["int8_macro_f1_drop"] = round(out["minilm"]["macro_f1"] - out["minilm"]["int8_macro_f1"], 4)
    assert test_y is not None
    out["ci95"] = _bootstrap(test_y, preds, k, seed)
    out["n_test"] = int(len(test_y))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    began = time.perf_counter()
    dataset = _read()
    print(f"read {dataset.n_samples} reviews in {time.perf_counter() - began:.0f}s", flush=True)
    runs = [run_seed(dataset, seed, args.epochs) for seed in args.seeds]
    result = {"command": f"python -m benchmarks.text.run --seeds {' '.join(map(str, args.seeds))} --epochs {args.epochs}",
              "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
              "data": "Druglib.com reviews, sideEffectsReview -> sideEffects (5 levels)", "runs": runs}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{datetime.now(UTC).strftime('%Y-%m-%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print("\n| seed | TF-IDF macro-F1 (95% CI) | MiniLM macro-F1 (95% CI) | difference CI | int8 drop | "
          "batch-1 ms torch / ONNX / int8 | int8 vs torch |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        m, t, ci = r["minilm"], r["tfidf"], r["ci95"]
        lat = m["latency_ms_batch1"]
        print(f"| {r['seed']} | {t['macro_f1']:.3f} ({ci['tfidf'][0]:.3f}–{ci['tfidf'][1]:.3f}) | "
              f"{m['macro_f1']:.3f} ({ci['minilm'][0]:.3f}–{ci['minilm'][1]:.3f}) | "
              f"{ci['minilm_minus_tfidf'][0]:+.3f} to {ci['minilm_minus_tfidf'][1]:+.3f} | {m['int8_macro_f1_drop']:+.4f} | "
              f"{lat['pytorch_fp32']} / {lat['onnx_fp32']} / {lat['onnx_int8']} | {m['int8_speedup_vs_pytorch']}× |")
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
