"""Image-model quality and speed on MedMNIST, several seeds, in one run.

    python -m benchmarks.imaging.run                      # all three data sets, seeds 0 1 2
    python -m benchmarks.imaging.run --datasets breastmnist --seeds 0

For each data set and seed: train the image kind as the built-in model of that data set is
trained (BreastMNIST: an ensemble of three seeds; the others one network; each early-stopped
on the official validation split, mirror-image test-time augmentation), then on the official test split report AUROC and
accuracy (at 0.5, as MedMNIST v2 reports, and at the validation-chosen threshold), the training
time, and per-image latency at batch 1 and 32 of PyTorch eager fp32, ONNX fp32 and ONNX int8,
all with the same thread count. Results go to benchmarks/imaging/results/<date>.json and a
Markdown table on stdout.
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

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "src" / "medmaas" / "builtin" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
DATASETS: dict[str, dict[str, Any]] = {
    "breastmnist": {"file": "breastmnist.npz", "classes": ["malignant", "normal-or-benign"],
                    "positive": "malignant", "epochs": 40, "members": 3,
                    "published": "AUC 0.919 (AutoML Vision), ACC 0.863 (ResNet-18 at 28)",
                    "target_auroc": 0.92, "target_accuracy": 0.88},
    "pneumoniamnist": {"file": "pneumoniamnist_trainsubsampled.npz", "classes": ["normal", "pneumonia"],
                       "positive": "pneumonia", "epochs": 20, "members": 1,
                       "published": "ResNet-18 (28) 0.944 / 0.854 on the full train split",
                       "target_auroc": 0.96, "target_accuracy": 0.90},
    "adrenalmnist3d": {"file": "adrenalmnist3d.npz", "classes": ["normal", "adrenal-mass"],
                       "positive": "adrenal-mass", "epochs": 40, "members": 1,
                       "published": "ResNet-18+3D 0.863 / 0.721; ResNet-18+ACS 0.839 / 0.754",
                       "target_auroc": 0.85, "target_accuracy": None},
}
THREADS = 2


def _latency(fn: Any, batch: np.ndarray, repeats: int) -> float:
    """Median ms per image, timed the way training times ONNX variants for the model card."""
    from medmaas.training.variants import median_ms

    return median_ms(lambda _feeds: fn(batch), {}, repeats) / len(batch)


def _speed(kind: Any, bundle: Path, images: np.ndarray) -> dict[str, float]:
    import onnxruntime as ort
    import torch

    torch.set_num_threads(THREADS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    sessions = {name: ort.InferenceSession(str(bundle / file), options, providers=["CPUExecutionProvider"])
                for name, file in (("onnx_fp32", "model.onnx"), ("onnx_int8", "model.int8.onnx"))}
    model = kind.model_.eval()

    def eager(x: np.ndarray) -> Any:
        with torch.no_grad():
            return model(torch.from_numpy(x))

    out: dict[str, float] = {}
    for size in (1, 32):
        x = np.ascontiguousarray(images[:size], dtype=np.float32)
        repeats = 50 if size == 1 else 15
        out[f"torch_fp32_b{size}"] = _latency(eager, x, repeats)
        for name, session in sessions.items():
            out[f"{name}_b{size}"] = _latency(lambda b, s=session: s.run(None, {"image": b}), x, repeats)
    return {k: round(v, 4) for k, v in out.items()}


def run_one(name: str, seed: int, epochs: int | None, workdir: Path) -> dict[str, Any]:
    import onnxruntime as ort
    from sklearn.metrics import roc_auc_score

    from medmaas.kinds.image import ImageKind
    from medmaas.kinds.image.reading import read_image_dataset

    config = DATASETS[name]
    dataset = read_image_dataset(DATA / config["file"], name=name, class_names=config["classes"],
                                 positive_class=config["positive"])
    # The settings of the built-in models (medmaas.builtin.catalog) where one exists.
    kind = ImageKind(random_state=seed, epochs=epochs or config["epochs"], members=config["members"])
    train, test, _ = kind.split(dataset)
    began = time.perf_counter()
    kind.fit(train)
    train_seconds = time.perf_counter() - began
    bundle = workdir / f"{name}-{seed}"
    kind.export(bundle, train)
    proba = kind.predict_native(test)
    int8 = ort.InferenceSession(str(bundle / "model.int8.onnx"), providers=["CPUExecutionProvider"])
    proba_int8 = int8.run(None, {"image": test.images.astype(np.float32)})[0]
    y = test.y
    threshold = kind.threshold_ if kind.threshold_ is not None else 0.5
    result = {
        "dataset": name, "seed": seed, "n_train": kind.n_train_, "n_val": kind.n_val_, "n_test": len(y),
        "train_seconds": round(train_seconds, 1), "members": config["members"],
        "epochs_run": [o.epochs_run for o in kind.member_outcomes_],
        "best_epoch": [o.best_epoch for o in kind.member_outcomes_], "val_auroc": round(kind.val_auroc_, 4),
        "auroc": round(float(roc_auc_score(y, proba[:, 1])), 4),
        "accuracy_at_0.5": round(float(np.mean((proba[:, 1] >= 0.5) == y)), 4),
        "accuracy_at_threshold": round(float(np.mean((proba[:, 1] >= threshold) == y)), 4),
        "auroc_int8": round(float(roc_auc_score(y, proba_int8[:, 1])), 4),
        "accuracy_int8_at_0.5": round(float(np.mean((proba_int8[:, 1] >= 0.5) == y)), 4),
        "latency_ms_per_image": _speed(kind, bundle, test.images),
    }
    return result


def summarise(results: list[dict[str, Any]]) -> str:
    lines = ["| data set | seeds | AUROC | accuracy @0.5 | accuracy @val threshold | int8 AUROC | "
             "train s | int8 vs PyTorch, batch 1 | batch 32 | target (AUROC / acc) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["dataset"] for r in results):
        rows = [r for r in results if r["dataset"] == name]

        def stat(key: str, rows: list[dict[str, Any]] = rows) -> str:
            values = [r[key] for r in rows]
            spread = f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else ""
            return f"{statistics.mean(values):.3f}{spread}"

        def ratio(size: int, rows: list[dict[str, Any]] = rows) -> str:
            values = [r["latency_ms_per_image"][f"torch_fp32_b{size}"] / r["latency_ms_per_image"][f"onnx_int8_b{size}"]
                      for r in rows]
            return f"{statistics.mean(values):.1f}×"

        config = DATASETS[name]
        target = f"{config['target_auroc']} / {config['target_accuracy'] or '–'}"
        lines.append(f"| {name} | {len(rows)} | {stat('auroc')} | {stat('accuracy_at_0.5')} | "
                     f"{stat('accuracy_at_threshold')} | {stat('auroc_int8')} | {stat('train_seconds')} | "
                     f"{ratio(1)} | {ratio(32)} | {target} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="override each data set's epochs")
    args = parser.parse_args()
    import tempfile

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    meta = {"when": stamp, "cpus": os.cpu_count(), "machine": platform.machine(), "threads": THREADS,
            "command": "python -m benchmarks.imaging.run " + " ".join(
                [f"--datasets {' '.join(args.datasets)}", f"--seeds {' '.join(map(str, args.seeds))}"]
                + ([f"--epochs {args.epochs}"] if args.epochs else []))}
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="medmaas-bench-img-") as tmp:
        for name in args.datasets:
            for seed in args.seeds:
                results.append(run_one(name, seed, args.epochs, Path(tmp)))
                print(json.dumps(results[-1]), flush=True)
                # Written after every run: an interrupted benchmark keeps what it measured.
                (RESULTS / f"{stamp}.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print(summarise(results))


if __name__ == "__main__":
    main()
