"""ICU mortality from the first 48 hours (PhysioNet/CinC Challenge 2012, set A, 4,000 stays):
the timeseries kind's three candidates (GRU, gradient boosting, and their ensemble, the mean of
the two probabilities), with the SAPS-I score as the floor.

    python -m benchmarks.signals.icu [--data PATH] [--folds 5] [--seed 0] [--boot 1000] [--gru-seeds 1]

5-fold stratified cross-validation over all 4,000 stays. In each fold the kind is trained
exactly as a user's ``TimeSeriesKind()`` with no candidates named (15% of the training folds
held out as the validation split for the threshold, the conformal sets and the selection; the
GRU stops early on its own slice of the rest; nothing is tuned on the test fold); every
candidate's test-fold probabilities come from that one fit (``predict_candidate``), and the
candidate the kind ships (``estimator_``: the ensemble unless a single model beats it by more
than one standard error on the validation split) is recorded as "selected".

Per fold: AUROC, AUPRC, the challenge's event-1 score min(Se, PPV) — at the threshold where
Se = PPV (the model calls as many deaths as there are, so Se = PPV = TP / deaths), and as the
best over all thresholds — the Brier score, the expected calibration error (10 equal-width
bins) and the calibration slope and intercept (logistic regression of the outcome on
logit(p): 1 and 0 are perfect). 95% CIs: stratified percentile bootstrap (medmaas.metrics)
of the pooled out-of-fold predictions. SAPS-I (Outcomes-a.txt) is scored as a risk score on
the stays that have one.

Published on the same data: GRU-D AUROC 0.8424 ± 0.0012 (Che et al. 2018, Sci Rep 8:6085,
set A, 5-fold); challenge event-1 winner min(Se, PPV) 0.5353 (Johnson et al. 2012, CinC 39,
on the hidden set C). Results go to benchmarks/signals/results/icu-<date>.json and a Markdown
table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_DATA = Path(os.environ.get("MEDMAAS_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) \
    / "signals" / "physionet2012_set-a.tar.gz"
RESULTS = Path(__file__).resolve().parent / "results"
CANDIDATES = ("gru", "gradient-boosting", "ensemble")
PUBLISHED = {"GRU-D AUROC (Che et al. 2018, set A, 5-fold CV)": 0.8424,
             "challenge event-1 winner min(Se, PPV) (Johnson et al. 2012, hidden set C)": 0.5353}


def se_ppv(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """min(Se, PPV) where Se = PPV (call the top-k, k = number of deaths), and the best over thresholds."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(y[order])
    n_pos = int(y.sum())
    at_equal = float(hits[n_pos - 1] / n_pos) if n_pos else float("nan")
    # Thresholds between distinct scores only: calling half of a tie is not a threshold.
    distinct = np.r_[p[order][1:] != p[order][:-1], True]
    called = np.arange(1, len(y) + 1)
    best = float(np.max(np.minimum(hits / n_pos, hits / called)[distinct])) if n_pos else float("nan")
    return at_equal, best


def calibration_line(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of logit P(y=1) = a + b·logit(p)."""
    from sklearn.linear_model import LogisticRegression

    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit[:, None], y)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def metrics(y: np.ndarray, p: np.ndarray, *, probabilities: bool = True) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from medmaas.metrics.calibration import expected_calibration_error

    equal, best = se_ppv(y, p)
    out = {"auroc": float(roc_auc_score(y, p)), "auprc": float(average_precision_score(y, p)),
           "min_se_ppv": equal, "min_se_ppv_best": best}
    if probabilities:
        slope, intercept = calibration_line(y, p)
        out |= {"brier": float(np.mean((p - y) ** 2)), "ece": float(expected_calibration_error(y, p)),
                "calibration_slope": slope, "calibration_intercept": intercept}
    return out


def bootstrap(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> dict[str, list[float]]:
    from medmaas.metrics.bootstrap import bootstrap_ci

    def fn(yy: np.ndarray, pp: np.ndarray) -> dict[str, float]:
        from sklearn.metrics import average_precision_score, roc_auc_score

        return {"auroc": float(roc_auc_score(yy, pp)), "auprc": float(average_precision_score(yy, pp)),
                "min_se_ppv": se_ppv(yy, pp)[0], "brier": float(np.mean((pp - yy) ** 2))}

    cis = bootstrap_ci(fn, y, p, n_boot=n_boot, seed=seed)
    return {k: [round(v.ci_low, 4), round(v.ci_high, 4)] for k, v in cis.items()
            if v.ci_low is not None and v.ci_high is not None}


def saps_scores(path: Path, stay_ids: tuple[str, ...]) -> np.ndarray:
    """SAPS-I per stay from the archive's Outcomes-a.txt (NaN where the file says -1)."""
    with tarfile.open(path) as archive:
        member = next(m for m in archive if Path(m.name).name.lower().startswith("outcomes"))
        handle = archive.extractfile(member)
        assert handle is not None
        lines = handle.read().decode().splitlines()
    header = lines[0].split(",")
    column = header.index("SAPS-I")
    table = {row.split(",")[0]: float(row.split(",")[column]) for row in lines[1:] if row.strip()}
    scores = np.array([table.get(s, np.nan) for s in stay_ids])
    return np.where(scores < 0, np.nan, scores)


def run(data: Path, folds: int, seed: int, n_boot: int, epochs: int, gru_seeds: int) -> dict[str, Any]:
    from sklearn.model_selection import StratifiedKFold

    from medmaas.kinds.timeseries.kind import TimeSeriesKind

    began = time.perf_counter()
    dataset = TimeSeriesKind.read(data, target="In-hospital_death", name="physionet2012-a")
    print(f"read {dataset.n_samples} stays in {time.perf_counter() - began:.0f}s", flush=True)
    y = dataset.y
    oof = {name: np.zeros(len(y)) for name in (*CANDIDATES, "selected")}
    per_fold: list[dict[str, Any]] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(y)), y)):
        train, test = dataset.subset(train_idx), dataset.subset(test_idx)
        record: dict[str, Any] = {"fold": fold, "n_test": len(test_idx), "deaths_test": int(test.y.sum())}
        kind = TimeSeriesKind(random_state=seed, epochs=epochs, gru_seeds=gru_seeds)
        t0 = time.perf_counter()
        kind.fit(train)
        seconds = time.perf_counter() - t0
        fit_seconds = {c.name: c.fit_seconds for c in kind.cv_scores_}
        for name in CANDIDATES:
            p = kind.predict_candidate(test, name)[:, 1]
            oof[name][test_idx] = p
            details = kind.details_.get(name, {})
            record[name] = {**{k: round(v, 4) for k, v in metrics(test.y, p).items()},
                            "validation_auroc": details["validation_auroc"],
                            "fit_seconds": round(fit_seconds[name], 1),
                            "details": {k: v for k, v in details.items() if k != "validation_auroc"} or None}
            print(f"  fold {fold} {name}: AUROC {record[name]['auroc']:.4f} "
                  f"(validation {details['validation_auroc']:.4f}, {fit_seconds[name]:.0f}s)", flush=True)
        chosen = kind.estimator_
        oof["selected"][test_idx] = oof[chosen][test_idx]
        record["selected"] = {"candidate": chosen, "auroc": record[chosen]["auroc"], "why": kind.selection_,
                              "fit_seconds": round(seconds, 1)}
        saps = saps_scores(data, test.stay_ids)
        known = np.isfinite(saps)
        record["saps_i"] = {k: round(v, 4) for k, v in
                            metrics(test.y[known], saps[known], probabilities=False).items()}
        per_fold.append(record)
    saps = saps_scores(data, dataset.stay_ids)
    known = np.isfinite(saps)
    summary: dict[str, Any] = {}
    for name in CANDIDATES:
        folds_auroc = [r[name]["auroc"] for r in per_fold]
        summary[name] = {"pooled": {k: round(v, 4) for k, v in metrics(y, oof[name]).items()},
                         "fold_mean": {k: round(float(np.mean([r[name][k] for r in per_fold])), 4)
                                       for k in per_fold[0][name] if isinstance(per_fold[0][name][k], float)},
                         "fold_auroc_sd": round(float(np.std(folds_auroc)), 4),
                         "ci95": bootstrap(y, oof[name], n_boot, seed)}
    summary["selected"] = {"pooled": {k: round(v, 4) for k, v in metrics(y, oof["selected"]).items()},
                           "chosen": [r["selected"]["candidate"] for r in per_fold],
                           "ci95": bootstrap(y, oof["selected"], n_boot, seed)}
    summary["saps_i"] = {"n": int(known.sum()),
                         "pooled": {k: round(v, 4) for k, v in
                                    metrics(y[known], saps[known], probabilities=False).items()},
                         "ci95": {k: v for k, v in bootstrap(y[known], saps[known] / 100, n_boot, seed).items()
                                  if k != "brier"}}
    return {"folds": per_fold, "summary": summary, "seconds": round(time.perf_counter() - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--gru-seeds", type=int, default=1)
    args = parser.parse_args()
    if not args.data.exists():
        raise SystemExit(f"no data at {args.data}: pass --data <physionet2012_set-a.tar.gz>")
    result = run(args.data, args.folds, args.seed, args.boot, args.epochs, args.gru_seeds)
    result |= {"command": f"python -m benchmarks.signals.icu --folds {args.folds} --seed {args.seed} "
                          f"--boot {args.boot} --epochs {args.epochs} --gru-seeds {args.gru_seeds}",
               "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
               "cpus": os.cpu_count(), "data": "PhysioNet/CinC Challenge 2012 set A (4,000 stays, ODC-By)",
               "published": PUBLISHED}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"icu-{datetime.now(UTC).strftime('%Y-%m-%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    s = result["summary"]
    print("\n| fold | AUROC GRU / GBM / ensemble | validation AUROC GRU / GBM / ensemble | SAPS-I AUROC | "
          "min(Se,PPV) GRU / GBM / ensemble | shipped |")
    print("|---|---|---|---|---|---|")
    for r in result["folds"]:
        def three(key: str, _r: dict = r) -> str:
            return " / ".join(f"{_r[name][key]:.4f}" for name in CANDIDATES)

        print(f"| {r['fold']} | {three('auroc')} | {three('validation_auroc')} | {r['saps_i']['auroc']:.4f} | "
              f"{three('min_se_ppv')} | {r['selected']['candidate']} |")
    print("\n| model (pooled out-of-fold) | AUROC (95% CI) | AUPRC (95% CI) | min(Se,PPV) Se=PPV (95% CI) | "
          "best min(Se,PPV) | Brier | ECE | cal. slope / intercept |")
    print("|---|---|---|---|---|---|---|---|")
    for name in (*CANDIDATES, "selected", "saps_i"):
        pooled, ci = s[name]["pooled"], s[name]["ci95"]

        def cell(key: str, _p: dict = pooled, _c: dict = ci) -> str:
            return f"{_p[key]:.4f} ({_c[key][0]:.4f}–{_c[key][1]:.4f})" if key in _c else f"{_p[key]:.4f}"

        calibration = (f"{pooled['brier']:.4f} | {pooled['ece']:.4f} | {pooled['calibration_slope']:.2f} / "
                       f"{pooled['calibration_intercept']:.2f}") if "brier" in pooled else "– | – | –"
        print(f"| {name} | {cell('auroc')} | {cell('auprc')} | {cell('min_se_ppv')} | "
              f"{pooled['min_se_ppv_best']:.4f} | {calibration} |")
    for label, value in PUBLISHED.items():
        print(f"published: {label}: {value}")
    print(f"\nwrote {path} ({result['seconds']:.0f}s)")


if __name__ == "__main__":
    main()
