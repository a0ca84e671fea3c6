"""Pick one candidate by k-fold cross-validation on the training split.

Every candidate is scored on the same folds; the out-of-fold predictions of the winner are
kept, because the operating threshold and the conformal uncertainty are calibrated on them
(never on the hold-out test split).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.kinds.base import Progress, no_progress


@dataclass
class CandidateScore:
    name: str
    metric: str
    fold_scores: list[float]
    fit_seconds: float
    oof: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_scores))

    @property
    def std(self) -> float:
        return float(np.std(self.fold_scores))


def _score(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import mean_squared_error, roc_auc_score

    if task == "regression":
        return -float(np.sqrt(mean_squared_error(y, pred)))
    if pred.shape[1] == 2:
        return float(roc_auc_score(y, pred[:, 1]))
    return float(roc_auc_score(y, pred, multi_class="ovr", average="macro"))


def metric_name(task: str) -> str:
    return "neg_rmse" if task == "regression" else "auroc"


def select_candidate(
    make_pipeline: Callable[[str], Any],
    names: list[str],
    X: Any,
    y: np.ndarray,
    *,
    task: str,
    folds: int,
    seed: int,
    progress: Progress = no_progress,
    progress_span: tuple[float, float] = (0.0, 1.0),
) -> tuple[str, list[CandidateScore]]:
    """Score each candidate pipeline on the same folds; return the best name and all scores.

    The one-standard-error rule picks among them: the first candidate in ``names`` (simplest
    first) whose mean score is within one standard error of the best mean. A network that beats
    a linear model by less than the fold-to-fold noise is not better, only harder to explain.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (
        StratifiedKFold(folds, shuffle=True, random_state=seed)
        if task == "classification"
        else KFold(folds, shuffle=True, random_state=seed)
    )
    splits = list(splitter.split(np.zeros(len(y)), y))
    start, end = progress_span
    total = len(names) * len(splits)
    scores: list[CandidateScore] = []
    step = 0
    for name in names:
        n_classes = int(y.max()) + 1 if task == "classification" else 0
        oof = np.zeros((len(y), n_classes)) if task == "classification" else np.zeros(len(y))
        fold_scores = []
        began = time.perf_counter()
        for train_idx, val_idx in splits:
            progress(f"cross-validating {name} (fold {len(fold_scores) + 1}/{len(splits)})",
                     start + (end - start) * step / total)
            model = make_pipeline(name)
            model.fit(_rows(X, train_idx), y[train_idx])
            pred = model.predict_proba(_rows(X, val_idx)) if task == "classification" else model.predict(_rows(X, val_idx))
            oof[val_idx] = pred
            fold_scores.append(_score(task, y[val_idx], np.asarray(pred)))
            step += 1
        scores.append(CandidateScore(name, metric_name(task), fold_scores,
                                     time.perf_counter() - began, oof))
    top = max(scores, key=lambda s: s.mean)
    standard_error = top.std / np.sqrt(len(splits))
    best = next(s for s in scores if s.mean >= top.mean - standard_error)
    progress(f"selected {best.name}", end)
    return best.name, scores


def _rows(X: Any, idx: np.ndarray) -> Any:
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def by_name(scores: list[CandidateScore]) -> Mapping[str, CandidateScore]:
    return {s.name: s for s in scores}
