"""Clinical evaluation: metrics with bootstrap confidence intervals, calibration, plots.

Training-time only: the modules here use scikit-learn (and matplotlib for ``plots``), which come
with ``pip install 'medmaas[train]'``; serving never imports this package.

- ``classification``: binary and multiclass metrics, Youden's operating threshold
- ``regression``: MAE, RMSE, R², median absolute error
- ``bootstrap``: percentile bootstrap confidence intervals for any metric function
- ``calibration``: reliability curve and expected calibration error
- ``evaluate``: everything above for one hold-out split, as the card's ``Evaluation``
- ``plots``: ROC, PR, calibration, confusion, importance and regression figures as PNG
"""

from __future__ import annotations

from medmaas._optional import optional_import

# Fail on first import with the install hint rather than a bare ModuleNotFoundError deep inside.
optional_import("sklearn", "train")

from medmaas.metrics.bootstrap import bootstrap_ci  # noqa: E402
from medmaas.metrics.calibration import expected_calibration_error, reliability_curve  # noqa: E402
from medmaas.metrics.classification import (  # noqa: E402
    binary_metrics,
    multiclass_metrics,
    youden_threshold,
)
from medmaas.metrics.evaluate import evaluate  # noqa: E402
from medmaas.metrics.regression import regression_metrics  # noqa: E402

__all__ = [
    "binary_metrics",
    "bootstrap_ci",
    "evaluate",
    "expected_calibration_error",
    "multiclass_metrics",
    "regression_metrics",
    "reliability_curve",
    "youden_threshold",
]
