"""Train the benchmark model once: GradientBoostingClassifier on the breast-cancer table.

Writes into OUT_DIR: model.joblib (scikit-learn, for the peers), model.onnx (skl2onnx, one
float input [None, 30], no zipmap, for the ceiling), meta.json (feature order, classes) and
reference.json (scikit-learn's probabilities for the first 64 rows, for the sanity check).
Runs in the project venv: ``python -m benchmarks.serving.peers.train CSV OUT_DIR``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier

TARGET = "diagnosis"


def main(csv: str, out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    frame = pd.read_csv(csv)
    features = [c for c in frame.columns if c != TARGET]
    model = GradientBoostingClassifier(random_state=0).fit(frame[features], frame[TARGET])
    joblib.dump(model, out / "model.joblib")
    onx = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, len(features)]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    (out / "model.onnx").write_bytes(onx.SerializeToString())
    meta = {"features": features, "classes": [str(c) for c in model.classes_]}
    (out / "meta.json").write_text(json.dumps(meta, indent=2))
    proba = model.predict_proba(frame[features].head(64))
    (out / "reference.json").write_text(json.dumps({"probabilities": proba.tolist()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
