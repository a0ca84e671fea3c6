"""What a typical team writes: FastAPI + pydantic + pandas + scikit-learn, run by uvicorn.

Run: ``uvicorn benchmarks.serving.peers.fastapi_sklearn:app`` with BENCH_DIR (model.joblib,
meta.json) set. No authentication (most such services leave it to a gateway).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import pandas as pd
from fastapi import FastAPI
from pydantic import BaseModel

_DIR = Path(os.environ["BENCH_DIR"])
FEATURES: list[str] = json.loads((_DIR / "meta.json").read_text())["features"]
model = joblib.load(_DIR / "model.joblib")
CLASSES = [str(c) for c in model.classes_]

app = FastAPI()


class PredictRequest(BaseModel):
    rows: list[dict[str, float]]


@app.get("/readyz")
def readyz() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/predict")
def predict(request: PredictRequest) -> dict[str, list[dict[str, object]]]:
    frame = pd.DataFrame(request.rows, columns=FEATURES)
    proba = model.predict_proba(frame)
    return {"predictions": [
        {"label": CLASSES[p.argmax()], "probabilities": dict(zip(CLASSES, p.tolist(), strict=True))}
        for p in proba
    ]}
