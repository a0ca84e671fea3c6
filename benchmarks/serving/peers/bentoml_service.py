"""BentoML 1.x (new-style ``@bentoml.service``) serving the scikit-learn model.

BENCH_BATCHING=1 makes the API batchable (adaptive batching: concurrent requests are merged
into one matrix before ``predict_proba``); otherwise each request is predicted on its own.
The input is a numpy matrix (``{"rows": [[30 numbers], ...]}``, columns in the CSV's order),
as in BentoML's own scikit-learn examples: a ``pd.DataFrame`` input cannot be batched in
BentoML 1.4 (its DataFrame container reports ``shape`` as the batch size and the dispatcher
fails). Run in benchmarks/.venvs/bentoml: ``bentoml serve bentoml_service:GBC`` with BENCH_DIR.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import bentoml
import joblib
import numpy as np

_DIR = Path(os.environ["BENCH_DIR"])
BATCHING = os.environ.get("BENCH_BATCHING") == "1"
# The model was fitted on a DataFrame; a bare matrix in the same column order is fine.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class GBC:
    def __init__(self) -> None:
        self.model = joblib.load(_DIR / "model.joblib")

    @bentoml.api(batchable=BATCHING, max_batch_size=256, max_latency_ms=1000)
    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(rows)
