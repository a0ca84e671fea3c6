"""Fine-tuning the encoder classifier: AdamW with linear warm-up and decay, class-weighted
loss, length-bucketed batches, and early stopping on the validation split's macro-F1. The
test split is never seen here."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.kinds.base import Progress, no_progress
from medmaas.kinds.text.tokens import Encoded


@dataclass(frozen=True)
class FineTuneSettings:
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    patience: int = 2
    #: the word-embedding matrix is half of MiniLM's weights; on a few thousand notes it
    #: barely moves, and freezing it halves the optimizer's work
    freeze_embeddings: bool = True
    seed: int = 0


@dataclass
class FineTuneOutcome:
    best_epoch: int
    best_val_macro_f1: float
    epochs_run: int
    seconds: float


def macro_f1(y: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, proba.argmax(1), average="macro", labels=list(range(proba.shape[1]))))


def length_batches(mask: np.ndarray, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Batches of notes of similar length (little padding); shuffled when ``rng`` is given."""
    lengths = mask.sum(1)
    order = rng.permutation(len(lengths)) if rng is not None else np.arange(len(lengths))
    # Sort within windows of 50 batches: similar lengths together, yet a different mix each epoch.
    window = batch_size * 50
    chunks = [order[i:i + window] for i in range(0, len(order), window)]
    batches = [c[np.argsort(lengths[c], kind="stable")] for c in chunks]
    out = [b[i:i + batch_size] for b in batches for i in range(0, len(b), batch_size)]
    if rng is not None:
        out = [out[i] for i in rng.permutation(len(out))]
    return out


def _tensors(encoded: Encoded, index: np.ndarray) -> tuple[Any, Any]:
    import torch

    mask = encoded.mask[index]
    width = max(1, int(mask.sum(1).max()))
    return (torch.from_numpy(np.ascontiguousarray(encoded.ids[index, :width])),
            torch.from_numpy(np.ascontiguousarray(mask[:, :width])))


def predict_proba(model: Any, encoded: Encoded, batch_size: int = 64) -> np.ndarray:
    """Class probabilities in the notes' order (batched by length for speed)."""
    import torch

    model.eval()
    n = len(encoded.ids)
    out: np.ndarray | None = None
    with torch.no_grad():
        for index in length_batches(encoded.mask, batch_size, None):
            proba = model(*_tensors(encoded, index)).double().numpy()
            if out is None:
                out = np.zeros((n, proba.shape[1]))
            out[index] = proba
    return out if out is not None else np.zeros((0, 0))


def fine_tune(model: Any, train: Encoded, y_train: np.ndarray, val: Encoded, y_val: np.ndarray,
              settings: FineTuneSettings, n_classes: int, progress: Progress = no_progress) -> FineTuneOutcome:
    """Train ``model`` (ids and mask in, probabilities out) and load its best epoch."""
    import torch
    import torch.nn.functional as F

    from medmaas.kinds.image.training import class_weights

    torch.manual_seed(settings.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if settings.freeze_embeddings:
        model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]  # biases and LayerNorm: no weight decay
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=settings.learning_rate)
    rng = np.random.default_rng(settings.seed)
    steps_per_epoch = len(length_batches(train.mask, settings.batch_size, None))
    total = settings.epochs * steps_per_epoch
    warmup = max(1, int(settings.warmup_fraction * total))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
    weights = torch.from_numpy(class_weights(y_train, n_classes))
    labels = torch.from_numpy(y_train.astype(np.int64))
    best_state: dict[str, Any] = {}
    outcome = FineTuneOutcome(best_epoch=-1, best_val_macro_f1=-1.0, epochs_run=0, seconds=0.0)
    began = time.perf_counter()
    for epoch in range(settings.epochs):
        model.train()
        batches = length_batches(train.mask, settings.batch_size, rng)
        running = 0.0
        for step, index in enumerate(batches):
            proba = model(*_tensors(train, index))
            loss = F.nll_loss(torch.log(proba.clamp_min(1e-7)), labels[index], weight=weights)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            running += float(loss.detach())
            if step % 10 == 0:
                progress(f"epoch {epoch + 1}/{settings.epochs}: step {step + 1}/{len(batches)}, "
                         f"loss {running / (step + 1):.3f}", (epoch + step / len(batches)) / settings.epochs)
        score = macro_f1(y_val, predict_proba(model, val))
        if score > outcome.best_val_macro_f1:
            outcome.best_val_macro_f1, outcome.best_epoch = score, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        outcome.epochs_run = epoch + 1
        progress(f"epoch {epoch + 1}/{settings.epochs}: validation macro-F1 {score:.3f} "
                 f"(best {outcome.best_val_macro_f1:.3f} at {outcome.best_epoch})", (epoch + 1) / settings.epochs)
        if epoch + 1 - outcome.best_epoch >= settings.patience:
            break
    if best_state:
        model.load_state_dict(best_state)
    model.eval()
    outcome.seconds = time.perf_counter() - began
    return outcome
