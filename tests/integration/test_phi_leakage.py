"""Patient identifiers sent through every way into a running server are stored nowhere.

Canaries, unique random strings shaped like patient data (a name, an MRN, an SSN, a birth
date, a phone number, an email, a street address), go through every input path of a real
``medmaas serve`` process logging at DEBUG: JSON rows, CSV, DICOM, PNG and ECG uploads, FHIR
Bundles, notes, V2 tensors and parameters, headers, query strings, and requests that fail or
are refused. Then the server's output, every file under its home (the SQLite database with
its -wal and -shm files, the artifact store) and its temporary folder are searched byte by
byte, case-insensitively and in the canaries' usual transformations: none may hold one.
The database files are searched twice, while the server runs (what only the WAL holds) and
after it stopped. Canaries, their spellings and the files carrying them: ``tests/phi_canaries``.

An answer may echo a canary back to its own caller (an error naming the unknown model the
caller asked for); which requests do is printed (``pytest -s``) for benchmarks/phi/RESULTS.md.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import mixed_frame
from tests.image_builders import blob_dataset
from tests.phi_canaries import (
    Canaries,
    find_canaries,
    identified_bundle,
    identified_dicom,
    identified_edf,
    identified_png,
    identified_wfdb,
    scan_tree,
    v2_tabular,
)
from tests.server_process import free_port, wait_ready
from tests.signal_builders import beat_dataset, synthetic_ecg
from tests.text_builders import note_dataset

httpx = pytest.importorskip("httpx")
pytest.importorskip("pydicom")
pytest.importorskip("dicomanonymizer")
pytest.importorskip("wfdb")
pytest.importorskip("presidio_analyzer")
pytest.importorskip("PIL.Image")

pytestmark = pytest.mark.integration

MAX_BODY_BYTES = 2 * 1024 * 1024
#: Files under the home exempt from the search (globs relative to the home). None: uploaded
#: datasets are sealed (AES-GCM) wherever they are stored, so a canary in one is found nowhere
#: in the clear; a plaintext copy would be a finding.
ENCRYPTED_AT_REST: tuple[str, ...] = ()


# ----------------------------------------------------------------------------- the server home


@pytest.fixture(scope="module")
def phi_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with one model per input path: "mixed" (table, categories), "blobs" (16×16 grey
    images), "heart-failure-mortality" (table with a FHIR map), "side-effects" (notes) and
    "ecg" (beats). Trained small: what is under test is the way in, not the model."""
    from medmaas.builtin.catalog import builtin
    from medmaas.data.tabular import build_tabular_dataset
    from medmaas.data.units import BUILTIN_COLUMN_INFO
    from medmaas.fhir.maps import read_map
    from medmaas.kinds import get_kind
    from medmaas.registry import Registry
    from medmaas.settings import Settings
    from medmaas.training.train import TrainOptions, train_model

    home = tmp_path_factory.mktemp("phi-home")
    registry = Registry.open(Settings(home=home))
    try:
        def train(name: str, dataset: Any, **options: Any) -> None:
            result = train_model(dataset, name=name, registry=registry, actor="test",
                                 options=TrainOptions(n_boot=50, cv_folds=2, **options))
            registry.promote(name, int(result.version or 0), "production", actor="test")

        train("mixed", build_tabular_dataset(mixed_frame(), "outcome", name="mixed", source="synthetic"),
              candidates=["logistic-regression"])
        hf = builtin("heart-failure-mortality")
        train(hf.name, get_kind("tabular").read(hf.path, target=hf.target, name=hf.name, drop=list(hf.drop)),
              candidates=["logistic-regression"], units=BUILTIN_COLUMN_INFO.get(hf.path.stem),
              fhir=read_map(hf.path.parent / hf.fhir_map))
        # The training notes hold no identifiers; the notes sent to the server are de-identified
        # on arrival all the same (that is per request, not per model).
        train("side-effects", note_dataset(n=120), kind="text", candidates=["tfidf"],
              kind_options={"max_tokens": 64, "deidentify": False, "quantize": False})
        train("ecg", beat_dataset(n_records=4, seconds=30), kind="signal", candidates=["gradient-boosting"])
        train("blobs", blob_dataset(n=96, size=16, with_splits=True), kind="image",
              kind_options={"epochs": 1, "batch_size": 32, "patience": 1, "augment": False, "quantize": False})
    finally:
        registry.close()
    return home


@dataclass
class Server:
    home: Path
    tmp: Path
    stdout: Path
    stderr: Path
    url: str
    keys: dict[str, str]
    process: subprocess.Popen[bytes]
    ready_s: float = 0.0

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it: the lifespan closes the audit writer and the
        database, so the logs and the WAL are as they are left for good."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)


@pytest.fixture()
def server(phi_home: Path, tmp_path: Path) -> Iterator[Server]:
    """``medmaas serve`` on a copy of the home in its own process: DEBUG logs to files, its
    own temporary folder, keys made beforehand through the key store."""
    from medmaas.registry import Registry
    from medmaas.security.keys import KeyStore
    from medmaas.settings import Settings

    home = tmp_path / "home"
    shutil.copytree(phi_home, home)
    settings = Settings(home=home)
    registry = Registry.open(settings)
    try:
        store = KeyStore(registry, settings.resolved_secret())
        keys = {role: store.create(f"{role}-key", role, created_by="test")[0]
                for role in ("admin", "developer", "clinician", "auditor")}
    finally:
        registry.close()
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    port = free_port()
    env = {**os.environ, "MEDMAAS_LOG_LEVEL": "DEBUG", "MEDMAAS_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
           "TMPDIR": str(server_tmp), "PYTHONUNBUFFERED": "1"}
    env.pop("MEDMAAS_HOME", None)
    medmaas = Path(sys.executable).with_name("medmaas")
    command = [str(medmaas)] if medmaas.exists() else [sys.executable, "-m", "medmaas.cli.main"]
    stdout, stderr = tmp_path / "server.stdout", tmp_path / "server.stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen([*command, "--home", str(home), "serve", "--port", str(port), "--no-builtin"],
                                   stdout=out, stderr=err, env=env)
    running = Server(home, server_tmp, stdout, stderr, f"http://127.0.0.1:{port}", keys, process)
    began = time.monotonic()
    try:
        wait_ready(process, running.url, stderr, timeout=60, interval=0.1)
        running.ready_s = time.monotonic() - began
        yield running
    finally:
        running.stop()


# --------------------------------------------------------------------------------- the probes


@dataclass
class Probe:
    """Sends requests, checks each reached the server with the status expected, and notes
    which answers carry a canary back to the caller."""

    client: Any
    needles: dict[str, list[bytes]]
    base_headers: dict[str, str]
    sent: list[tuple[str, int]] = field(default_factory=list)
    seconds: float = 0.0
    slowest: list[tuple[float, str]] = field(default_factory=list)
    echoes: dict[str, list[str]] = field(default_factory=dict)
    #: requests answered otherwise than expected: a path that was not exercised
    unexpected: list[str] = field(default_factory=list)

    def __call__(self, label: str, method: str, url: str, status: int, *, key: str | None = None,
                 headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        sent_headers = {**self.base_headers, **(headers or {})}
        if key is not None:
            sent_headers["Authorization"] = f"Bearer {key}"
        began = time.perf_counter()
        response = self.client.request(method, url, headers=sent_headers, **kwargs)
        self.seconds += time.perf_counter() - began
        self.slowest = sorted([*self.slowest, (time.perf_counter() - began, label)], reverse=True)[:5]
        # Every answer, errors included, comes from medmaas itself: its request id is there.
        if response.status_code != status or len(response.headers.get("x-request-id", "")) != 32:
            self.unexpected.append(f"{label}: {response.status_code} (expected {status}) {response.text[:300]}")
        self.sent.append((label, response.status_code))
        answer = response.content + b"\n".join(k + b": " + v for k, v in response.headers.raw)
        hits = find_canaries(answer, self.needles)
        if hits:
            self.echoes[label] = hits
        return response


def send_everything(probe: Probe, c: Canaries, keys: dict[str, str], tmp: Path) -> None:
    """Every way in, with canaries wherever a caller can put something."""
    clinician, admin, auditor = keys["clinician"], keys["admin"], keys["auditor"]
    row = {"age": 67, "lactate": 2.2, "sex": "M", "ward": "icu"}
    q = {"patient": c.mrn}

    # JSON rows, through the data plane (predict) and FastAPI (explain)
    for route, status in (("predict", 200), ("explain", 200)):
        probe(f"{route}: canary in a category's value", "POST", f"/v1/models/mixed/{route}", status,
              key=clinician, params=q, json={"rows": [{**row, "ward": c.name}, {**row, "sex": c.mrn}]})
        probe(f"{route}: canary as an unknown column and its value", "POST", f"/v1/models/mixed/{route}", 422,
              key=clinician, json={"rows": [{**row, c.name: c.ssn, "patient_mrn": c.mrn}]})
        probe(f"{route}: canary where a number belongs", "POST", f"/v1/models/mixed/{route}", 422,
              key=clinician, json={"rows": [{**row, "age": c.ssn}]})
        probe(f"{route}: canary as an unknown top-level field", "POST", f"/v1/models/mixed/{route}", 422,
              key=clinician, json={"rows": [row], c.first: c.mrn})
        probe(f"{route}: canary as the model name", "POST", f"/v1/models/{c.mrn}/{route}", 404,
              key=clinician, json={"rows": [row]})
        probe(f"{route}: canary as the version", "POST", f"/v1/models/mixed/{route}", 404,
              key=clinician, params={"version": c.mrn}, json={"rows": [row]})
        probe(f"{route}: malformed JSON holding canaries", "POST", f"/v1/models/mixed/{route}", 422,
              key=clinician, content=f'{{"rows": [{{"ward": "{c.name}", "sex": {c.ssn}'.encode(),
              headers={"Content-Type": "application/json"})
        probe(f"{route}: rows as a string", "POST", f"/v1/models/mixed/{route}", 422,
              key=clinician, json={"rows": c.note})
    probe("predict: canary as 'explain'", "POST", "/v1/models/mixed/predict", 422,
          key=clinician, json={"rows": [row], "explain": c.name})

    # CSV
    csv = (f"age,lactate,sex,ward,id\n67,2.2,M,icu,{c.mrn}\n71,1.1,F,{c.name},{c.ssn}\n").encode()
    probe("csv: canaries in cells, echoed as ids", "POST", "/v1/models/mixed/predict/csv", 200, key=clinician,
          params={"id_column": "id", **q}, content=csv, headers={"Content-Type": "text/csv"})
    probe("csv: canary as a column header", "POST", "/v1/models/mixed/predict/csv", 422, key=clinician,
          content=f"age,lactate,sex,ward,{c.name}\n67,2.2,M,icu,{c.ssn}\n".encode(),
          headers={"Content-Type": "text/csv"})
    probe("csv: canary as the id_column", "POST", "/v1/models/mixed/predict/csv", 422, key=clinician,
          params={"id_column": c.mrn}, content=csv, headers={"Content-Type": "text/csv"})
    probe("csv: canary where a number belongs", "POST", "/v1/models/mixed/predict/csv", 422, key=clinician,
          content=f"age,lactate,sex,ward\n{c.ssn},2.2,M,icu\n".encode(), headers={"Content-Type": "text/csv"})
    probe("csv: sent as a multipart file named by a canary", "POST", "/v1/models/mixed/predict/csv", 422,
          key=clinician, files={"file": (f"{c.name} {c.mrn}.csv", csv, "text/csv")})

    # Images: DICOM (de-identified on arrival), PNG
    dicom, png = identified_dicom(c), identified_png(c)
    for route in ("predict", "explain"):
        probe(f"{route}/file: DICOM with identifiers, named by a canary", "POST",
              f"/v1/models/blobs/{route}/file", 200, key=clinician,
              params={"filename": f"{c.mrn}_{c.last}.dcm"}, content=dicom,
              headers={"Content-Type": "application/dicom"})
        probe(f"{route}/file: DICOM as multipart, file named by a canary", "POST",
              f"/v1/models/blobs/{route}/file", 200, key=clinician,
              files={"file": (f"{c.name} {c.ssn}.dcm", dicom, "application/dicom")})
        probe(f"{route}/file: PNG named by canaries, a canary in a text chunk", "POST",
              f"/v1/models/blobs/{route}/file", 200, key=clinician,
              files={"file": (f"{c.name} {c.mrn} {c.dob}.png", png, "image/png")})
    probe("predict/file: truncated DICOM named by a canary", "POST", "/v1/models/blobs/predict/file", 422,
          key=clinician, params={"filename": f"{c.name}.dcm"}, content=dicom[: len(dicom) - 100])
    probe("predict/file: canary as an unknown option", "POST", "/v1/models/blobs/predict/file", 422,
          key=clinician, params={"filename": "scan.png", **q}, content=png)
    probe("predict/file: canary as the model name", "POST", f"/v1/models/{c.last}/predict/file", 404,
          key=clinician, params={"filename": "scan.png"}, content=png)

    # ECG recordings: WFDB header comments, EDF patient fields, a zip named by a canary
    record = identified_wfdb(c, tmp / "wfdb")
    for route in ("predict", "explain"):
        probe(f"{route}/file: WFDB record, identifiers in header comments", "POST",
              f"/v1/models/ecg/{route}/file", 200, key=clinician,
              files=[("file", (name, data)) for name, data in record.items()])
    # Exports name records by the patient's number more often than not.
    header = record["rec.hea"].decode().replace("rec", c.mrn, 1).replace("rec.dat", f"{c.mrn}.dat")
    probe("predict/file: WFDB record named by an MRN", "POST", "/v1/models/ecg/predict/file", 200, key=clinician,
          files=[("file", (f"{c.mrn}.hea", header.encode())), ("file", (f"{c.mrn}.dat", record["rec.dat"]))])
    probe("predict/file: EDF with identifiers in its patient fields, named by a canary", "POST",
          "/v1/models/ecg/predict/file", 200, key=clinician, params={"filename": f"{c.mrn}.edf"},
          content=identified_edf(c))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in record.items():
            zipped.writestr(name, data)
        zipped.writestr(f"{c.name} {c.ssn}.txt", c.note)
    probe("predict/file: zip of a record plus a file named by a canary", "POST", "/v1/models/ecg/predict/file",
          200, key=clinician, params={"filename": f"{c.last}.zip"}, content=archive.getvalue())
    signal_mv, _, _ = synthetic_ecg(seconds=20, fs=250, seed=6)
    probe("predict/file: ECG CSV with a canary as the lead's name", "POST", "/v1/models/ecg/predict/file", 200,
          key=clinician, params={"filename": f"{c.mrn}.csv", "sampling_rate": "250"},
          content=(f"{c.last}\n" + "\n".join(f"{v:.4f}" for v in signal_mv)).encode())
    probe("predict/file: ECG CSV with a canary in a cell", "POST", "/v1/models/ecg/predict/file", 422,
          key=clinician, params={"filename": "ecg.csv", "sampling_rate": "250"},
          content=("II\n" + "\n".join(f"{v:.4f}" for v in signal_mv[:600]) + f"\n{c.ssn}\n").encode())

    # FHIR
    bundle = identified_bundle(c)
    fhir_headers = {"Content-Type": "application/fhir+json"}
    path = "/fhir/r4/RiskAssessment/$predict"
    params = {"model": "heart-failure-mortality", "at": "2020-06-01", **q}
    probe("fhir: identified Bundle", "POST", path, 200, key=clinician, params=params, json=bundle,
          headers=fhir_headers)
    probe("fhir: identified Bundle, full validation", "POST", path, 200, key=clinician,
          params={**params, "validate": "full", "explain": "false"}, json=bundle, headers=fhir_headers)
    broken = json.loads(json.dumps(bundle))
    broken["entry"][0]["resource"]["birthDate"] = f"{c.dob:%m/%d/%Y} {c.name}"
    probe("fhir: canary in an invalid birthDate", "POST", path, 422, key=clinician, params=params,
          json=broken, headers=fhir_headers)
    probe("fhir: canary as the model name", "POST", path, 404, key=clinician,
          params={**params, "model": c.mrn}, json=bundle, headers=fhir_headers)
    probe("fhir: canary as 'at'", "POST", path, 422, key=clinician, params={**params, "at": c.ssn},
          json=bundle, headers=fhir_headers)
    probe("fhir: malformed JSON holding canaries", "POST", path, 422, key=clinician, params=params,
          content=json.dumps(bundle).encode()[:-40], headers=fhir_headers)

    # Notes: de-identification, entities, a text model
    probe("deid: identified note, surrogates keyed by a canary", "POST", "/v1/deid", 200, key=clinician,
          params=q, json={"text": c.note, "surrogates": True, "patient": c.mrn})
    probe("deid: identified note, tags", "POST", "/v1/deid", 200, key=clinician, json={"text": c.note})
    probe("deid: canary as an unknown field, wrong types", "POST", "/v1/deid", 422, key=clinician,
          json={"text": c.note, "surrogates": c.name, "patient": {c.ssn: c.mrn}})
    probe("entities: identified note", "POST", "/v1/entities", 200, key=clinician, params=q, json={"text": c.note})
    probe("entities: canary where text belongs", "POST", "/v1/entities", 422, key=clinician,
          json={"text": [c.note]})
    for route in ("predict", "explain"):
        probe(f"{route}: identified note to a text model", "POST", f"/v1/models/side-effects/{route}", 200,
              key=clinician, json={"rows": [{"text": c.note}]})
        probe(f"{route}: identified note sent as it is (text:identified)", "POST",
              f"/v1/models/side-effects/{route}", 200, key=admin,
              json={"rows": [{"text": c.note}], "deidentify": False})
        probe(f"{route}: identified note as it is, refused", "POST", f"/v1/models/side-effects/{route}", 403,
              key=clinician, json={"rows": [{"text": c.note}], "deidentify": False})

    # The Open Inference Protocol
    probe("v2: canaries in the id, a BYTES tensor and a parameter", "POST", "/v2/models/mixed/infer", 400,
          key=clinician, json=v2_tabular(c))
    tabular = v2_tabular(c)
    del tabular["parameters"]
    probe("v2: canaries in the id and a BYTES tensor", "POST", "/v2/models/mixed/infer", 200,
          key=clinician, json=tabular)
    probe("v2: identified notes as BYTES", "POST", "/v2/models/side-effects/infer", 200, key=clinician,
          json={"id": c.ssn, "parameters": {"deidentify": True},
                "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": [c.note, c.name]}]})
    probe("v2: canary as the 'deidentify' parameter", "POST", "/v2/models/side-effects/infer", 400,
          key=clinician, json={"parameters": {"deidentify": c.name},
                               "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [c.note]}]})
    probe("v2: canary as a tensor's name", "POST", "/v2/models/side-effects/infer", 400, key=clinician,
          json={"inputs": [{"name": c.mrn, "shape": [1], "datatype": "BYTES", "data": [c.note]}]})
    note = c.note.encode()
    header = json.dumps({"id": c.mrn, "inputs": [{"name": "text", "shape": [1], "datatype": "BYTES",
                                                  "parameters": {"binary_data_size": 4 + len(note)}}]}).encode()
    probe("v2: identified note as a binary BYTES tensor", "POST", "/v2/models/side-effects/infer", 200,
          key=clinician, content=header + len(note).to_bytes(4, "little") + note,
          headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"})
    probe("v2: gzip-encoded request holding canaries", "POST", "/v2/models/mixed/infer", 200, key=clinician,
          content=gzip.compress(json.dumps(tabular).encode()),
          headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    probe("v2: canary as the model name", "POST", f"/v2/models/{c.mrn}/infer", 404, key=clinician,
          json=tabular)
    probe("v2: canary as the version", "POST", f"/v2/models/mixed/versions/{c.mrn}/infer", 404,
          key=clinician, json=tabular)
    probe("v2: malformed JSON holding canaries", "POST", "/v2/models/mixed/infer", 400, key=clinician,
          content=json.dumps(tabular).encode()[:-30], headers={"Content-Type": "application/json"})
    probe("v2: model metadata for a canary", "GET", f"/v2/models/{c.last}", 404, key=clinician, params=q)
    probe("v2: readiness of a canary", "GET", f"/v2/models/{c.last}/versions/{c.mrn}/ready", 404,
          key=clinician)

    # Credentials: malformed keys, keys shaped right but unknown, both headers
    probe("auth: canary as a bearer token", "GET", "/v1/models", 401, key=c.mrn)
    probe("auth: canary in a non-bearer scheme", "POST", "/v1/models/mixed/predict", 401,
          headers={"Authorization": f"Basic {c.name}"}, json={"rows": [row]})
    well_formed = f"mm_{c.key_id}_{c.last}{c.first}{c.mrn}"
    probe("auth: a well-formed unknown key made of canaries", "POST", "/v1/models/mixed/predict", 401,
          key=well_formed, json={"rows": [row]})
    probe("auth: the same via X-API-Key", "POST", "/v1/deid", 401, headers={"X-API-Key": well_formed},
          json={"text": c.note})
    probe("auth: canary as X-API-Key on V2", "POST", "/v2/models/mixed/infer", 401,
          headers={"X-API-Key": c.ssn}, json=tabular)
    probe("auth: canary as a bearer token on FHIR", "POST", path, 401, key=c.name, params=params, json=bundle,
          headers=fhir_headers)

    # Refused: known keys without the permission, on paths that carry canaries (audited)
    probe("denied: clinician promotes a model named by a canary", "POST",
          f"/v1/models/{c.mrn}/versions/1/promote", 403, key=clinician,
          json={"stage": "production", "reason": c.note})
    probe("denied: clinician revokes a key named by a canary", "DELETE", f"/v1/keys/{c.ssn}", 403,
          key=clinician)
    probe("denied: clinician reads the audit trail for a canary", "GET", "/v1/audit", 403, key=clinician,
          params={"actor": c.mrn, **q})
    probe("denied: clinician sets an alias named by a canary", "PUT", f"/v1/models/{c.last}/aliases/{c.first}",
          403, key=clinician, json={"version": 1})
    probe("denied: auditor predicts on a model named by a canary", "POST", f"/v1/models/{c.mrn}/predict", 403,
          key=auditor, json={"rows": [row]})
    probe("denied: auditor infers on a model named by a canary", "POST", f"/v2/models/{c.mrn}/infer", 403,
          key=auditor, json=tabular)
    probe("denied: auditor uploads to a model named by a canary", "POST", f"/v1/models/{c.last}/predict/file",
          403, key=auditor, params={"filename": f"{c.name}.dcm"}, content=dicom)
    probe("denied: auditor explains on a model named by a canary", "POST", f"/v1/models/{c.ssn}/explain",
          403, key=auditor, json={"rows": [row]})
    probe("denied: auditor sends an identified Bundle", "POST", path, 403, key=auditor, params=params,
          json=bundle, headers=fhir_headers)
    probe("denied: auditor de-identifies a note", "POST", "/v1/deid", 403, key=auditor, json={"text": c.note})

    # Control-plane reads with canaries in the path or the query (admin: allowed, not found)
    probe("models: canary as the model name", "GET", f"/v1/models/{c.mrn}", 404, key=admin, params=q)
    probe("models: canary as the version", "GET", f"/v1/models/mixed/versions/{c.mrn}", 404, key=admin)
    probe("models: canary as a plot's name", "GET", f"/v1/models/mixed/versions/1/plots/{c.last}.png", 404,
          key=admin)
    probe("models: canary as the history's model", "GET", f"/v1/models/{c.last}/history", 404, key=admin)
    probe("admin: canary as a key to revoke", "DELETE", f"/v1/keys/{c.key_id}", 404, key=admin)
    probe("admin: audit trail filtered by canaries", "GET", "/v1/audit", 200, key=admin,
          params={"actor": c.mrn, "action": c.name, **q})
    for route in ("/livez", "/readyz", "/v2", "/v2/health/live", "/v2/health/ready", "/fhir/r4/metadata",
                  "/v1/models", "/v1/models/mixed", "/v1/models/mixed/versions", "/v1/models/mixed/versions/1",
                  "/v1/models/mixed/versions/1/card.md", "/v1/models/mixed/history", "/v2/models/mixed",
                  "/v2/models/mixed/ready", "/v1/keys", "/v1/jobs", "/v1/audit/verify"):
        probe(f"GET {route}: canaries in the query", "GET", route, 200, key=admin,
              params={**q, c.last: c.ssn})
    probe("unknown route named by canaries", "GET", f"/v1/{c.name}/{c.ssn}", 404, key=admin, params=q)

    # Stored datasets: sealed at rest, so the canaries in them must not be found in the clear
    table = f"mrn,name,{c.last},dob\n{c.mrn},{c.name},{c.ssn},{c.dob}\n{c.ssn},{c.email},{c.phone},{c.dob}\n"
    probe("datasets: a table of canaries, its Content-Type holding more", "POST", "/v1/datasets/phi-probe", 201,
          key=admin, content=table.encode(), headers={"Content-Type": f"text/csv; patient={c.mrn}"})
    probe("datasets: a media type made of a canary", "POST", "/v1/datasets/phi-probe-2", 201, key=admin,
          content=table.encode(), headers={"Content-Type": f"text/x-{c.last}"})
    probe("datasets: the same name again", "POST", "/v1/datasets/phi-probe", 409, key=admin, content=table.encode(),
          headers={"Content-Type": "text/csv"})
    probe("datasets: its content, decrypted for its reader", "GET", "/v1/datasets/phi-probe/content", 200, key=admin)
    probe("datasets: a canary as the name read", "GET", f"/v1/datasets/{c.mrn}/content", 404, key=admin)
    probe("datasets: an empty upload", "POST", "/v1/datasets/phi-probe-3", 422, key=admin, content=b"",
          headers={"Content-Type": "text/csv"})
    probe("datasets: deleted (its data key destroyed)", "DELETE", "/v1/datasets/phi-probe-2", 204, key=admin)
    probe("denied: a clinician uploads a dataset", "POST", "/v1/datasets/phi-probe-4", 403, key=clinician,
          content=table.encode(), headers={"Content-Type": "text/csv"})

    # Bodies past the limit, each made of canaries
    big = (c.note + "\n").encode() * (MAX_BODY_BYTES // len(c.note) + 10)
    probe("too large: predict (data plane)", "POST", "/v1/models/mixed/predict", 413, key=clinician,
          content=big, headers={"Content-Type": "application/json"})
    probe("too large: deid", "POST", "/v1/deid", 413, key=clinician, content=big,
          headers={"Content-Type": "application/json"})
    probe("too large: file upload", "POST", "/v1/models/blobs/predict/file", 413, key=clinician,
          params={"filename": f"{c.name}.dcm"}, content=big)
    probe("too large: FHIR", "POST", path, 413, key=clinician, params=params, content=big, headers=fhir_headers)
    probe("too large: V2", "POST", "/v2/models/mixed/infer", 413, key=clinician, content=big)
    probe("too large: a note under the body limit but past the note limit", "POST", "/v1/deid", 413,
          key=clinician, json={"text": c.note * (200_000 // len(c.note) + 2)})


def _sqlite_files(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(home.glob("registry.db*")) if p.is_file()}


def test_no_canary_is_stored_anywhere(server: Server, tmp_path: Path) -> None:
    canaries = Canaries.draw()
    needles = canaries.needles()
    # The canaries must be new to this home, or a finding below would mean nothing.
    assert scan_tree(server.home, needles) == {}

    headers = {"User-Agent": f"EHR-bridge/2.1 ({canaries.name}; {canaries.mrn})",
               "X-Request-ID": canaries.mrn, "X-Patient": f"{canaries.name}; DOB {canaries.dob}; {canaries.ssn}",
               "X-Forwarded-For": canaries.email, "Referer": f"https://ehr.example.org/patients/{canaries.mrn}"}
    with httpx.Client(base_url=server.url, timeout=120) as client:
        probe = Probe(client, needles, headers)
        send_everything(probe, canaries, server.keys, tmp_path)
        # What the audit trail shows an auditor: each answered prediction, no canary.
        events = client.get("/v1/audit", params={"n": 1000},
                            headers={"Authorization": f"Bearer {server.keys['auditor']}"}).json()

    # While the server runs: the WAL holds what was not checkpointed yet.
    running = {name: find_canaries(data, needles) for name, data in _sqlite_files(server.home).items()}
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: -15 is a clean exit.
    exit_code = server.stop()

    logs = {"stdout": server.stdout.read_bytes(), "stderr": server.stderr.read_bytes()}
    findings = {
        **{f"log {name}": find_canaries(data, needles) for name, data in logs.items()},
        **{f"running {name}": hits for name, hits in running.items()},
        **{f"home/{path}": hits for path, hits in scan_tree(server.home, needles, ENCRYPTED_AT_REST).items()},
        **{f"tmp/{path}": hits for path, hits in scan_tree(server.tmp, needles).items()},
    }
    findings = {where: hits for where, hits in findings.items() if hits}
    debug_lines = sum(b'"level": "debug"' in line for line in logs["stderr"].splitlines())

    print(f"\nserver ready in {server.ready_s:.1f} s; {len(probe.sent)} requests in {probe.seconds:.1f} s; "
          f"answers echoing a canary to their caller: {len(probe.echoes)}")
    for label, status in probe.sent:
        echoed = probe.echoes.get(label)
        print(f"  {status} {label}" + (f"  <- echoes {', '.join(echoed)}" if echoed else ""))
    print(f"log lines: {len(logs['stderr'].splitlines())} on stderr ({debug_lines} at debug), "
          f"{len(logs['stdout'].splitlines())} on stdout; files searched under the home: "
          f"{sum(1 for p in server.home.rglob('*') if p.is_file())}; WAL searched while running: "
          f"{'registry.db-wal' in running}")
    print("slowest requests:", ", ".join(f"{label} {t:.1f} s" for t, label in probe.slowest))
    print(f"canaries found: {sum(len(h) for h in findings.values())} {findings}")
    print("answered otherwise than expected:", *probe.unexpected, sep="\n  ")
    assert exit_code in (0, -signal.SIGTERM), server.stderr.read_text()[-2000:]
    assert probe.unexpected == []
    actions = {e["action"] for e in events}
    assert {"model.predict", "model.explain", "text.deid", "text.entities", "auth.denied"} <= actions
    denied = {e["resource"] for e in events if e["action"] == "auth.denied"}
    # Refusals name the route, not the path asked for (which held the canaries).
    assert {"/v1/models/{name}/versions/{version}/promote", "/v1/keys/{key_id}", "/v1/models/{name}/predict",
            "/v2/models/{name}/infer", "/v1/models/{name}/predict/file"} <= denied
    assert debug_lines > 0  # the server did log at DEBUG
    assert find_canaries(json.dumps(events).encode(), needles) == []
    assert "registry.db-wal" in running  # the WAL was there to search
    assert findings == {}
