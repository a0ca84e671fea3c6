"""Hold-out and validation splits and the binary decision threshold, shared by the kinds that
choose a model on a validation split (image, text)."""

from __future__ import annotations

import numpy as np


def stratified(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions of the (1 - fraction) part and the fraction part, class shares kept."""
    from sklearn.model_selection import train_test_split

    first, second = train_test_split(np.arange(len(y)), test_size=fraction, random_state=seed, stratify=y)
    return np.sort(first), np.sort(second)


def youden(y: np.ndarray, proba: np.ndarray) -> float | None:
    """Youden's J threshold on P(positive) for a binary model; None for more classes."""
    if proba.shape[1] != 2:
        return None
    from medmaas.metrics.classification import youden_threshold

    return float(youden_threshold(y, proba[:, 1]))
