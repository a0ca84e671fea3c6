"""ECG beat classification on MIT-BIH (AAMI N/S/V/F/Q): the 1D CNN, LSTM and GRU against
gradient-boosted trees on handcrafted features, under both protocols, and the speed of a
whole-record request against the pipeline a user would write by hand.

    python -m benchmarks.signals.ecg                      # both protocols, all four candidates
    python -m benchmarks.signals.ecg --protocols inter --candidates cnn

Protocols (both reported, as the literature asks):
* intra-patient — a stratified random 20% of all 48 records' beats held out (the same patients'
  other beats are in training), comparable to Kachuee et al. 2018 (93.4% average accuracy);
* inter-patient — trained on de Chazal's DS1, tested on the 22 other patients of DS2 (paced
  records left out): what predicts use on new patients.

Beats are cut where NeuroKit2 finds R peaks (as the server cuts them) and labelled by the
annotation each matches within 150 ms; annotated beats the detector misses (~1%) are not
scored. Each candidate is trained by the signal kind exactly as the server's training does
(15% of the training part for validation and early stopping). CIs: 1000 bootstrap resamples of
beats (intra) or of test records (inter: beats of one patient are not independent).

Throughput: every DS2 record uploaded as its .hea + .dat bytes and answered as the server
does (read, filter, detect, cut, ONNX, encode) on one core, against wfdb + NeuroKit2 + the same
network in PyTorch eager (one thread). Results go to benchmarks/signals/results/ecg-<date>.json
and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SHARED = Path(os.environ.get("MEDMAAS_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
ARCHIVE = SHARED / "signals" / "mitdb_48records_wfdb.tar.xz"
N_BOOT = 1000


def _scores(y: np.ndarray, called: np.ndarray, classes: list[str]) -> dict[str, Any]:
    from sklearn.metrics import confusion_matrix, f1_score

    k = len(classes)
    matrix = confusion_matrix(y, called, labels=list(range(k)))
    # Inter-patient papers score N, S, V and F only: DS2 holds 7 Q beats, too few for a class.
    nsvf = [i for i, c in enumerate(classes) if c in "NSVF"]
    out: dict[str, Any] = {"accuracy": float((y == called).mean()),
                           "macro_f1": float(f1_score(y, called, average="macro", labels=list(range(k)),
                                                      zero_division=0)),
                           "macro_f1_nsvf": float(f1_score(y, called, average="macro", labels=nsvf,
                                                           zero_division=0))}
    for i, c in enumerate(classes):
        out[f"sensitivity[{c}]"] = float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None
        out[f"ppv[{c}]"] = float(matrix[i, i] / matrix[:, i].sum()) if matrix[:, i].sum() else None
    out["confusion_matrix"] = matrix.tolist()
    return out


def _bootstrap(y: np.ndarray, called: np.ndarray, groups: np.ndarray | None, k: int, seed: int = 0) -> dict[str, list[float]]:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    if groups is not None:
        names = np.unique(groups)
        members = {g: np.flatnonzero(groups == g) for g in names}
    accs, f1s = [], []
    for _ in range(N_BOOT):
        if groups is None:
            index = rng.integers(0, len(y), len(y))
        else:
            index = np.concatenate([members[g] for g in rng.choice(names, len(names))])
        accs.append((y[index] == called[index]).mean())
        f1s.append(f1_score(y[index], called[index], average="macro", labels=list(range(k)), zero_division=0))
    return {"accuracy": [round(float(np.percentile(accs, q)), 4) for q in (2.5, 97.5)],
            "macro_f1": [round(float(np.percentile(f1s, q)), 4) for q in (2.5, 97.5)]}


def _protocol(ds: Any, protocol: str, candidates: list[str], epochs: int, bundle_root: Path,
              trained: dict[str, Any]) -> dict[str, Any]:
    """Each candidate's hold-out scores; the intra-patient CNN is exported to ``bundle_root``
    and kept in ``trained`` for the throughput run."""
    from medmaas.kinds.signal.kind import SignalKind

    split = {"intra": "beats", "inter": "ds1-ds2"}[protocol]
    out: dict[str, Any] = {}
    for name in candidates:
        kind = SignalKind(candidates=[name], split=split, epochs=epochs, random_state=0)
        train, test, how = kind.split(ds)
        began = time.perf_counter()
        kind.fit(train, _printer(f"{protocol} {name}"))
        fit_s = time.perf_counter() - began
        proba = kind.predict_native(test)
        called = proba.argmax(axis=1)
        classes = list(ds.classes)
        result = _scores(test.y, called, classes)
        result["ci95"] = _bootstrap(test.y, called, test.records if protocol == "inter" else None, len(classes))
        result.update(split=how, n_train=train.n_samples, n_test=test.n_samples, fit_seconds=round(fit_s, 1),
                      card=kind.extra_card())
        out[name] = result
        print(f"  {protocol} {name}: accuracy {result['accuracy']:.4f} macro-F1 {result['macro_f1']:.4f} "
              f"({fit_s:.0f} s)", flush=True)
        if protocol == "intra" and name == "cnn":
            directory = bundle_root / "cnn"
            spec = kind.export(directory, train)
            (directory / "spec.json").write_text(spec.model_dump_json())
            trained["cnn"] = kind.model_
    return out


def _printer(label: str) -> Any:
    def show(message: str, fraction: float) -> None:
        if "epoch" in message:
            print(f"  [{label}] {message}", flush=True)

    return show


def _throughput(bundle: Path, network: Any, records_dir: Path, records: list[str]) -> dict[str, Any]:
    """Beats per second for whole-record requests, one core, medmaas against the hand-made path."""
    import neurokit2 as nk
    import torch
    import wfdb

    from medmaas.kinds.signal import processing
    from medmaas.runtime.loaded import load_bundle

    torch.set_num_threads(1)
    uploads = [{f"{r}.hea": (records_dir / f"{r}.hea").read_bytes(), f"{r}.dat": (records_dir / f"{r}.dat").read_bytes()}
               for r in records]
    out: dict[str, Any] = {"records": len(records)}
    for label, onnx_file in (("medmaas_fp32", "model.onnx"), ("medmaas_int8", "model.int8.onnx")):
        model = load_bundle(bundle, name="ecg", intra_threads=1, onnx_file=onnx_file)
        beats, began = 0, time.perf_counter()
        for files in uploads:
            batch = model.kind.decode_files(model.spec, files, {})
            answer = model.predict(batch)
            beats += len(answer[0]["beats"])
        out[label] = {"beats": beats, "seconds": round(time.perf_counter() - began, 3)}
    beats, began = 0, time.perf_counter()
    for r in records:
        # What a user would write: read with wfdb, clean and find peaks with NeuroKit2, cut
        # windows, run the network in PyTorch.
        record = wfdb.rdrecord(str(records_dir / r))
        lead = processing.resample(record.p_signal[:, 0], record.fs)
        clean = nk.ecg_clean(lead, sampling_rate=processing.MODEL_RATE)
        _, info = nk.ecg_peaks(clean, sampling_rate=processing.MODEL_RATE)
        peaks = np.asarray(info["ECG_R_Peaks"])
        windows, kept = processing.cut_beats(clean, peaks)
        rhythm = processing.rr_features(peaks)[kept].astype(np.float32)
        with torch.no_grad():
            labels = network(torch.from_numpy(windows), torch.from_numpy(rhythm)).argmax(dim=1)
        beats += len(labels)
    out["wfdb_neurokit_pytorch"] = {"beats": beats, "seconds": round(time.perf_counter() - began, 3)}
    for entry in out.values():
        if isinstance(entry, dict):
            entry["beats_per_second"] = round(entry["beats"] / entry["seconds"])
    base = out["wfdb_neurokit_pytorch"]["beats_per_second"]
    out["ratio_fp32_vs_handmade"] = round(out["medmaas_fp32"]["beats_per_second"] / base, 2)
    out["ratio_int8_vs_handmade"] = round(out["medmaas_int8"]["beats_per_second"] / base, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocols", nargs="+", default=["intra", "inter"], choices=["intra", "inter"])
    parser.add_argument("--candidates", nargs="+", default=["cnn", "lstm", "gru", "gradient-boosting"])
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    if not ARCHIVE.exists():
        raise SystemExit(f"MIT-BIH not found at {ARCHIVE}")
    from medmaas.kinds.signal.kind import DS2
    from medmaas.kinds.signal.reading import read_beat_dataset

    report: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "protocols": {}}
    with tempfile.TemporaryDirectory(prefix="medmaas-mitdb-") as tmp:
        with tarfile.open(ARCHIVE) as archive:
            archive.extractall(tmp, filter="data")
        records_dir = next(Path(tmp).rglob("100.hea")).parent
        began = time.perf_counter()
        ds = read_beat_dataset(records_dir, name="mitdb")
        report["dataset"] = {**ds.summary(), "read_seconds": round(time.perf_counter() - began, 1),
                             "notes": len(ds.warnings)}
        bundles, trained = Path(tmp) / "bundles", {}
        for protocol in args.protocols:
            print(f"{protocol}-patient", flush=True)
            report["protocols"][protocol] = _protocol(ds, protocol, args.candidates, args.epochs, bundles, trained)
        if "cnn" in trained:
            report["throughput"] = _throughput(bundles / "cnn", trained["cnn"], records_dir, list(DS2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%S")
    path = RESULTS / f"ecg-{stamp}.json"
    path.write_text(json.dumps(report, indent=2))
    _print_table(report)
    print(f"\nwrote {path}")


def _print_table(report: dict[str, Any]) -> None:
    print("\n| protocol | model | accuracy (95% CI) | macro-F1 (95% CI) | Se N/S/V/F | PPV N/S/V/F | fit s |")
    print("|---|---|---|---|---|---|---|")
    for protocol, models in report["protocols"].items():
        for name, r in models.items():
            se = "/".join(f"{r.get(f'sensitivity[{c}]') or 0:.2f}" for c in "NSVF")
            ppv = "/".join(f"{r.get(f'ppv[{c}]') or 0:.2f}" for c in "NSVF")
            ci_a, ci_f = r["ci95"]["accuracy"], r["ci95"]["macro_f1"]
            print(f"| {protocol} | {name} | {r['accuracy']:.4f} ({ci_a[0]:.4f}–{ci_a[1]:.4f}) | "
                  f"{r['macro_f1']:.4f} ({ci_f[0]:.4f}–{ci_f[1]:.4f}) | {se} | {ppv} | {r['fit_seconds']:.0f} |")
    if "throughput" in report:
        t = report["throughput"]
        print(f"\nwhole-record requests, {t['records']} DS2 records, one core: medmaas fp32 "
              f"{t['medmaas_fp32']['beats_per_second']} beats/s, int8 {t['medmaas_int8']['beats_per_second']}, "
              f"wfdb + NeuroKit2 + PyTorch {t['wfdb_neurokit_pytorch']['beats_per_second']} "
              f"(ratios {t['ratio_fp32_vs_handmade']}×, {t['ratio_int8_vs_handmade']}×)")


if __name__ == "__main__":
    main()
