"""Save the joblib model as an MLflow model directory (runs in benchmarks/.venvs/mlflow).

``python mlflow_save.py MODEL_JOBLIB OUT_DIR``: pyfunc ``predict`` returns class
probabilities (``pyfunc_predict_fn="predict_proba"``), like the other servers. MLflow 3
stores scikit-learn models with skops, which must be told the tree type is trusted.
"""

from __future__ import annotations

import shutil
import sys

import joblib
import mlflow.sklearn

model = joblib.load(sys.argv[1])
shutil.rmtree(sys.argv[2], ignore_errors=True)
mlflow.sklearn.save_model(
    model,
    sys.argv[2],
    pyfunc_predict_fn="predict_proba",
    skops_trusted_types=["sklearn.tree._tree.Tree"],
)
