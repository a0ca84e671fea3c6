"""The soak run's client mix, as a locust user.

One task is one request; the weights make the mix (of 100 requests):

| weight | request | body |
|---|---|---|
| 75 | ``POST /v1/models/breast-cancer-wdbc/predict`` | one patient, ``{"rows": [{feature: value}]}`` |
| 8 | ``POST /v1/models/breast-cancer-wdbc/explain`` | one patient, ``top_k`` 5 (SHAP) |
| 8 | ``POST /v2/models/breast-cancer-wdbc/infer`` | one patient as a JSON FP32 tensor [1, 30] |
| 3 | ``POST /fhir/r4/RiskAssessment/$predict?model=heart-failure-mortality`` | a shipped Synthea Bundle (300-700 kB), with its SHAP rationale |
| 6 | ``GET /v1/models`` | — |

Patients are drawn at random (seeded) from the rows of the shipped WDBC table and the shipped
Bundles; every body is built once, at import. ``benchmarks.soak.run`` drives this class through
locust's library API; it also runs on its own against any server::

    SOAK_API_KEY=mm_... locust -f benchmarks/soak/locustfile.py --host http://127.0.0.1:8000 \\
        --headless -u 50 -r 10 -t 60s

``SOAK_PER_USER_RATE`` (default 5) is the requests per second each user makes at most
(locust's ``constant_throughput``): users × rate bounds the load.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import orjson
from locust import FastHttpUser, constant_throughput, task

REPO = Path(__file__).resolve().parents[2]
WDBC_CSV = REPO / "src" / "medmaas" / "builtin" / "data" / "breast_cancer_wdbc.csv"
BUNDLES = REPO / "examples" / "fhir" / "r4"
TABLE_MODEL = "breast-cancer-wdbc"
FHIR_MODEL = "heart-failure-mortality"
PER_USER_RATE = float(os.environ.get("SOAK_PER_USER_RATE", "5"))
WEIGHTS = {"predict": 75, "explain": 8, "v2 infer": 8, "fhir $predict": 3, "models": 6}


def _rows() -> list[dict[str, float]]:
    with WDBC_CSV.open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if k != "diagnosis"} for row in csv.DictReader(f)]


ROWS = _rows()
PREDICT = [orjson.dumps({"rows": [row]}) for row in ROWS]
EXPLAIN = [orjson.dumps({"rows": [row], "top_k": 5}) for row in ROWS]
INFER = [orjson.dumps({"inputs": [{"name": "input", "shape": [1, len(row)], "datatype": "FP32",
                                   "data": list(row.values())}]}) for row in ROWS]
FHIR = [path.read_bytes() for path in sorted(BUNDLES.glob("*.json"))]
JSON = {"Content-Type": "application/json"}
FHIR_JSON = {"Content-Type": "application/fhir+json"}


class SoakUser(FastHttpUser):
    """One client application with its own keep-alive connection, paced to PER_USER_RATE."""

    wait_time = constant_throughput(PER_USER_RATE)
    api_key = os.environ.get("SOAK_API_KEY", "")
    seed = 0

    def on_start(self) -> None:
        SoakUser.seed += 1
        self.random = random.Random(SoakUser.seed)
        self.auth = {"Authorization": f"Bearer {self.api_key}"}

    def _post(self, path: str, body: bytes, headers: dict[str, str], name: str) -> None:
        self.client.post(path, data=body, headers={**self.auth, **headers}, name=name)

    @task(WEIGHTS["predict"])
    def predict(self) -> None:
        self._post(f"/v1/models/{TABLE_MODEL}/predict", self.random.choice(PREDICT), JSON, "predict")

    @task(WEIGHTS["explain"])
    def explain(self) -> None:
        self._post(f"/v1/models/{TABLE_MODEL}/explain", self.random.choice(EXPLAIN), JSON, "explain")

    @task(WEIGHTS["v2 infer"])
    def infer(self) -> None:
        self._post(f"/v2/models/{TABLE_MODEL}/infer", self.random.choice(INFER), JSON, "v2 infer")

    @task(WEIGHTS["fhir $predict"])
    def fhir(self) -> None:
        self._post(f"/fhir/r4/RiskAssessment/$predict?model={FHIR_MODEL}", self.random.choice(FHIR),
                   FHIR_JSON, "fhir $predict")

    @task(WEIGHTS["models"])
    def models(self) -> None:
        self.client.get("/v1/models", headers=self.auth, name="models")
