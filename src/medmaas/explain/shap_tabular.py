"""Per-prediction SHAP contributions for any model reachable as a function of raw features.

The model is the ONNX graph (preprocessing included), so contributions are in terms of the
fields a caller sent, not of one-hot columns. Permutation SHAP with an independent masker over
a small background summary: exact additivity (contributions sum to prediction - base value)
and model-agnostic, so every candidate family is explained the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medmaas._optional import optional_import


def shap_values(
    predict: Callable[[np.ndarray], np.ndarray],
    background: np.ndarray,
    rows: np.ndarray,
    *,
    seed: int = 0,
    permutations: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values (n, m) and base values (n,) of ``predict`` at ``rows``.

    ``rows`` and ``background`` are float arrays (categories as integer codes, missing as NaN);
    ``predict`` maps such an array to one score per row.
    """
    shap = optional_import("shap", "train")
    masker = shap.maskers.Independent(background, max_samples=len(background))
    n_features = rows.shape[1]
    explainer = shap.explainers.Permutation(predict, masker, seed=seed)
    # Each antithetic permutation costs 2m+1 evaluations; one already sums exactly to the
    # prediction, more average out the order effects of correlated features.
    explanation = explainer(rows, max_evals=permutations * (2 * n_features + 1), silent=True)
    return np.asarray(explanation.values, dtype=float), np.asarray(explanation.base_values, dtype=float)


def global_importance(values: np.ndarray, names: list[str]) -> dict[str, float]:
    """Mean |SHAP| per feature, largest first."""
    mean_abs = np.abs(values).mean(axis=0)
    order = np.argsort(-mean_abs)
    return {names[i]: round(float(mean_abs[i]), 6) for i in order}


def top_contributions(values: np.ndarray, record: dict[str, object], names: list[str],
                      top_k: int) -> list[dict[str, object]]:
    """The ``top_k`` largest contributions of one row, with the value that was sent."""
    order = np.argsort(-np.abs(values))[:top_k]
    return [
        {"feature": names[i], "value": record.get(names[i]), "contribution": round(float(values[i]), 6)}
        for i in order
    ]
