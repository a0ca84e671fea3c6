"""Training one CNN: MONAI augmentation, class-weighted loss, one-cycle schedule, and early
stopping on the validation split's AUROC. The test split is never seen here."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.kinds.base import Progress, no_progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSettings:
    """Hyper-parameters of one training run (the kind's constructor passes them through)."""

    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 5e-4
    patience: int = 12
    label_smoothing: float = 0.05
    augment: bool = True
    seed: int = 0


@dataclass
class FitOutcome:
    state: dict[str, Any]
    best_epoch: int
    best_val_auroc: float
    epochs_run: int
    seconds: float


def augmenter(spatial_dims: int, seed: int) -> Any:
    """Small, anatomy-preserving changes: a mirror, a few degrees of rotation, ±10% scale, a
    few pixels of shift, slight contrast change. Applied per image by MONAI."""
    from monai.transforms import Compose, RandAdjustContrast, RandAffine, RandFlip

    angle = np.pi / 12
    transforms = Compose([
        RandFlip(prob=0.5, spatial_axis=spatial_dims - 1),
        RandAffine(prob=0.9, rotate_range=angle if spatial_dims == 2 else (angle, angle, angle),
                   scale_range=0.1, translate_range=(2,) * spatial_dims, padding_mode="border"),
        RandAdjustContrast(prob=0.3, gamma=(0.8, 1.25)),
    ])
    transforms.set_random_state(seed)
    return transforms


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Inverse-frequency weights (n / (k · count)): each class adds the same total loss, so a
    9:1 imbalance does not teach the network to answer the majority class."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    return (len(y) / (n_classes * np.maximum(counts, 1.0))).astype(np.float32)


def val_auroc(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return float("nan")
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro",
                               labels=list(range(proba.shape[1]))))


def predict_proba(model: Any, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities of a deployable model (display-scale pixels in)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size], dtype=np.float32))
            out.append(model(chunk).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def train_network(model: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                  y_val: np.ndarray, settings: FitSettings, n_classes: int,
                  progress: Progress = no_progress) -> FitOutcome:
    """Fit ``model`` (a deployable: pixels in, probabilities out) and load its best epoch.

    The loss is computed on log-probabilities, so the graph that is trained is the graph that
    is exported. Early stopping keeps the epoch with the best validation AUROC and stops after
    ``patience`` epochs without improvement.
    """
    import torch
    from monai.data import set_track_meta
    from monai.utils import set_determinism

    set_determinism(seed=settings.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    spatial_dims = x_train.ndim - 2
    transforms = augmenter(spatial_dims, settings.seed) if settings.augment else None
    weights = torch.from_numpy(class_weights(y_train, n_classes))
    x_all = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    y_all = torch.from_numpy(y_train.astype(np.int64))
    steps = int(np.ceil(len(x_all) / settings.batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.learning_rate,
                                                   total_steps=settings.epochs * steps)
    generator = torch.Generator().manual_seed(settings.seed)
    best = FitOutcome(state={}, best_epoch=-1, best_val_auroc=-1.0, epochs_run=0, seconds=0.0)
    began = time.perf_counter()
    # MONAI's metadata tracking costs more than the transform itself on 28×28 images.
    previous_tracking = _track_meta(set_track_meta, False)
    try:
        for epoch in range(settings.epochs):
            model.train()
            order = torch.randperm(len(x_all), generator=generator)
            total = 0.0
            for start in range(0, len(order), settings.batch_size):
                index = order[start:start + settings.batch_size]
                batch = x_all[index]
                if transforms is not None:
                    batch = torch.stack([torch.as_tensor(transforms(image)) for image in batch])
                log_p = torch.log(model(batch).clamp_min(1e-7))
                loss = _smoothed_nll(log_p, y_all[index], weights, settings.label_smoothing)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += float(loss.detach()) * len(index)
            score = val_auroc(y_val, predict_proba(model, x_val))
            if score > best.best_val_auroc:
                best.best_val_auroc, best.best_epoch = score, epoch + 1
                best.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            best.epochs_run = epoch + 1
            progress(f"epoch {epoch + 1}/{settings.epochs}: loss {total / len(x_all):.3f}, "
                     f"validation AUROC {score:.3f} (best {best.best_val_auroc:.3f} at {best.best_epoch})",
                     (epoch + 1) / settings.epochs)
            if epoch + 1 - best.best_epoch >= settings.patience:
                progress(f"early stop: no better validation AUROC for {settings.patience} epochs", 1.0)
                break
    finally:
        _track_meta(set_track_meta, previous_tracking)
    if best.state:
        model.load_state_dict(best.state)
    best.seconds = time.perf_counter() - began
    return best


def _smoothed_nll(log_p: Any, target: Any, weights: Any, smoothing: float) -> Any:
    import torch.nn.functional as F

    nll = F.nll_loss(log_p, target, weight=weights)
    if smoothing <= 0:
        return nll
    uniform = -(log_p * weights).mean(dim=1).mean() / weights.mean()
    return (1 - smoothing) * nll + smoothing * uniform


def _track_meta(setter: Any, value: bool) -> bool:
    from monai.data.meta_obj import get_track_meta

    previous = get_track_meta()
    setter(value)
    return previous
