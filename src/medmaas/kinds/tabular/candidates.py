"""The candidate models the tabular kind compares by cross-validation.

Three families a clinical ML engineer would try first: a regularised linear model (the
interpretable baseline), gradient-boosted trees, and a small neural network. Gradient boosting
is scikit-learn's ``GradientBoosting*``: its ONNX conversion is exact, while skl2onnx 1.20
cannot convert ``HistGradientBoosting*`` trained by scikit-learn 1.9.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medmaas.exceptions import InvalidInputError

Factory = Callable[[int], Any]


def _logistic(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=5000, random_state=seed)


def _ridge(seed: int) -> Any:
    from sklearn.linear_model import Ridge

    return Ridge(alpha=1.0, random_state=seed)


def _gbt_classifier(seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(n_estimators=150, learning_rate=0.05, max_depth=3,
                                      subsample=0.8, random_state=seed)


def _gbt_regressor(seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=150, learning_rate=0.05, max_depth=3,
                                     subsample=0.8, random_state=seed)


def _mlp_classifier(seed: int) -> Any:
    from medmaas.kinds.tabular.mlp import TorchMLPClassifier

    return TorchMLPClassifier(hidden=(64, 32), random_state=seed)


def _mlp_regressor(seed: int) -> Any:
    from medmaas.kinds.tabular.mlp import TorchMLPRegressor

    return TorchMLPRegressor(hidden=(64, 32), random_state=seed)


CANDIDATES: dict[str, dict[str, Factory]] = {
    "classification": {
        "logistic-regression": _logistic,
        "gradient-boosting": _gbt_classifier,
        "mlp": _mlp_classifier,
    },
    "regression": {
        "ridge": _ridge,
        "gradient-boosting": _gbt_regressor,
        "mlp": _mlp_regressor,
    },
}


#: Candidates that are invariant to feature scale (trees): preprocessing skips standardisation.
SCALE_FREE = frozenset({"gradient-boosting"})


def candidate_factories(task: str, names: list[str] | None = None) -> dict[str, Factory]:
    """The factories for ``task``, optionally restricted to ``names`` (order kept).

    >>> list(candidate_factories("regression", ["ridge"]))
    ['ridge']
    """
    available = CANDIDATES[task]
    if not names:
        return dict(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise InvalidInputError(
            f"unknown candidate(s) {', '.join(unknown)} for {task}; choose from {', '.join(available)}"
        )
    return {n: available[n] for n in names}
