"""Fitting the two models the candidates are made of: the GRU with early stopping on validation
AUROC, and gradient boosting on per-stay summaries (the ensemble averages the two). Training-time
only (torch, scikit-learn)."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.kinds.base import Progress, no_progress

#: the GRU's inputs in the order the network and the ONNX graph take them
GRID_INPUTS = ("values", "mask", "delta", "statics")


@dataclass(frozen=True)
class GRUSettings:
    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    patience: int = 8
    hidden: int = 64
    seed: int = 0


@dataclass
class GRUOutcome:
    epochs_run: int
    best_epoch: int
    best_val_auroc: float
    seconds: float


@dataclass(frozen=True)
class BoostingSettings:
    """Shallow trees, a small learning rate and row subsampling: the usual defaults that hold up
    on a few thousand stays without tuning (tuned on nothing here, so nothing leaks)."""

    trees: int = 300
    learning_rate: float = 0.05
    max_depth: int = 3
    subsample: float = 0.8
    min_samples_leaf: int = 20
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"trees": self.trees, "learning_rate": self.learning_rate, "max_depth": self.max_depth,
                "subsample": self.subsample, "min_samples_leaf": self.min_samples_leaf}


def auroc(y: np.ndarray, proba: np.ndarray) -> float:
    """AUROC of P(positive) for two classes, macro one-vs-rest for more; 0.5 when undefined."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return 0.5
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    present = np.unique(y)
    return float(np.mean([roc_auc_score(y == c, proba[:, c]) for c in present]))


def train_gru(train: dict[str, np.ndarray], y: np.ndarray, val: dict[str, np.ndarray], y_val: np.ndarray,
              settings: GRUSettings, n_classes: int, progress: Progress = no_progress) -> tuple[Any, GRUOutcome]:
    """The network at its best validation AUROC; stops after ``patience`` epochs without gain."""
    import torch

    from medmaas.kinds.timeseries.networks import DecayGRU

    began = time.perf_counter()
    torch.manual_seed(settings.seed)
    model = DecayGRU(n_variables=train["values"].shape[2], n_statics=train["statics"].shape[1],
                     n_classes=n_classes, hidden=settings.hidden)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    tensors = [torch.from_numpy(train[name]) for name in GRID_INPUTS]
    targets = torch.from_numpy(y.astype(np.int64))
    rng = np.random.default_rng(settings.seed)
    best = (-1.0, 0, copy.deepcopy(model.state_dict()))
    epoch = 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.from_numpy(rng.permutation(len(y)))
        for start in range(0, len(y), settings.batch_size):
            rows = order[start:start + settings.batch_size]
            loss = torch.nn.functional.cross_entropy(model.logits(*(t[rows] for t in tensors)), targets[rows])
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # recurrent nets: keep early steps sane
            optimiser.step()
        score = auroc(y_val, predict_gru(model, val))
        if score > best[0]:
            best = (score, epoch, copy.deepcopy(model.state_dict()))
        progress(f"epoch {epoch}: validation AUROC {score:.3f} (best {best[0]:.3f})", epoch / settings.epochs)
        if epoch - best[1] >= settings.patience:
            break
    model.load_state_dict(best[2])
    model.eval()
    return model, GRUOutcome(epochs_run=epoch, best_epoch=best[1], best_val_auroc=best[0],
                             seconds=time.perf_counter() - began)


def predict_gru(model: Any, inputs: dict[str, np.ndarray], batch_size: int = 512) -> np.ndarray:
    import torch

    model.eval()
    n = len(inputs["statics"])
    parts = []
    with torch.no_grad():
        for start in range(0, max(n, 1), batch_size):
            parts.append(model(*(torch.from_numpy(inputs[name][start:start + batch_size]) for name in GRID_INPUTS)))
    return torch.cat(parts).numpy().astype(np.float64)


def fit_boosting(features: np.ndarray, y: np.ndarray, settings: BoostingSettings) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(n_estimators=settings.trees, learning_rate=settings.learning_rate,
                                       max_depth=settings.max_depth, subsample=settings.subsample,
                                       min_samples_leaf=settings.min_samples_leaf, random_state=settings.seed)
    return model.fit(features, y)
