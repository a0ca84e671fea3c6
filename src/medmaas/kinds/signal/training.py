"""Training one beat network: class-weighted loss (the AAMI classes are 90% N), light
amplitude and noise augmentation, AdamW with a one-cycle schedule, and early stopping on the
validation split's macro-F1. The test split is never seen here."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.kinds.base import Progress, no_progress


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 6
    augment: bool = True
    seed: int = 0


@dataclass
class FitOutcome:
    best_epoch: int
    best_val_macro_f1: float
    epochs_run: int
    seconds: float


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Square-root inverse-frequency weights: rare classes (F: 0.7% of beats) count more
    without the full inverse's 100-fold weights, which made training unstable."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.sqrt(len(y) / (n_classes * np.maximum(counts, 1.0)))
    return (weights / weights.mean()).astype(np.float32)


def macro_f1(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, proba.argmax(axis=1), average="macro", labels=np.unique(y), zero_division=0))


def predict_proba(model: Any, windows: np.ndarray, rhythm: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            stop = start + batch_size
            out.append(model(torch.from_numpy(np.ascontiguousarray(windows[start:stop], np.float32)),
                             torch.from_numpy(np.ascontiguousarray(rhythm[start:stop], np.float32))).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def train_network(model: Any, train: tuple[np.ndarray, np.ndarray, np.ndarray],
                  val: tuple[np.ndarray, np.ndarray, np.ndarray], settings: FitSettings, n_classes: int,
                  progress: Progress = no_progress) -> FitOutcome:
    """Fit ``model`` in place on (windows, rhythm, y) and keep the best validation epoch."""
    import torch

    torch.manual_seed(settings.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rng = np.random.default_rng(settings.seed)
    windows, rhythm, y = (torch.from_numpy(np.ascontiguousarray(a)) for a in train)
    y = y.long()
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(class_weights(train[2], n_classes)))
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    steps_per_epoch = max(1, -(-len(y) // settings.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=settings.learning_rate,
                                                   epochs=settings.epochs, steps_per_epoch=steps_per_epoch)
    best = (-1.0, 0, {k: v.clone() for k, v in model.state_dict().items()})
    began, epoch = time.perf_counter(), 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = torch.from_numpy(rng.permutation(len(y)))
        for start in range(0, len(y), settings.batch_size):
            idx = order[start:start + settings.batch_size]
            beat = windows[idx]
            if settings.augment:
                # Gain differs between leads and devices; noise differs between recordings.
                beat = beat * torch.empty(len(idx), 1).uniform_(0.85, 1.15) + 0.02 * torch.randn_like(beat)
            loss = loss_fn(model.logits(beat, rhythm[idx]), y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        score = macro_f1(val[2], predict_proba(model, val[0], val[1]))
        if score > best[0]:
            best = (score, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        progress(f"epoch {epoch}: validation macro-F1 {score:.3f}", epoch / settings.epochs)
        if epoch - best[1] >= settings.patience:
            break
    model.load_state_dict(best[2])
    model.eval()
    return FitOutcome(best_epoch=best[1], best_val_macro_f1=best[0], epochs_run=epoch,
                      seconds=time.perf_counter() - began)
