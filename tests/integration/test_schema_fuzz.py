"""Schema fuzzing of the running server: every operation of its own ``/openapi.json``, called by
schemathesis with data that fits the document and data that does not, on a real uvicorn server
on loopback. No answer may be a 5xx, every answer must be one the document declares (status,
content type, body schema), invalid data must be refused, and no operation that needs a key may
answer without one or with a wrong one.

Schemathesis runs all its phases here, as its CLI does: schema examples, coverage (boundary
values and each way to break the schema), fuzzing (``MEDMAAS_SCHEMA_EXAMPLES`` examples per
operation) and stateful sequences along the links the document declares and those schemathesis
infers from the responses. Bounded by default; ``MEDMAAS_SCHEMA_EXAMPLES=100`` is the long run
(``make fuzz``; numbers in benchmarks/fuzz/SCHEMA.md). The summary printed at the end gives the
requests sent, the operations covered and the failures by kind.
"""

from __future__ import annotations

import io
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.test_access_matrix import PUBLIC

pytestmark = pytest.mark.integration

schemathesis = pytest.importorskip("schemathesis")

#: fuzzed examples per operation; the coverage phase and the stateful sequences add theirs
EXAMPLES = int(os.environ.get("MEDMAAS_SCHEMA_EXAMPLES", "5"))
SEED = 20261122
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "negative_data_rejection", "ignored_auth")
#: what a failed check means, for the summary
KINDS = {"not_a_server_error": "server errors", "response_schema_conformance": "schema violations",
         "status_code_conformance": "undocumented statuses", "content_type_conformance": "undocumented content types",
         "negative_data_rejection": "invalid data accepted", "ignored_auth": "auth bypasses"}
#: media types each upload must be sent as at least once
UPLOADS = {"/v1/models/{name}/predict/file", "/v1/models/{name}/explain/file",
           "/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"}

@dataclass
class Tally:
    """What the run did: requests on the wire, operations called, failures by check."""

    requests: int = 0
    operations: set[str] = field(default_factory=set)
    media_types: set[tuple[str, str]] = field(default_factory=set)
    failures: dict[tuple[str, str, str], str] = field(default_factory=dict)
    by_check: Counter[str] = field(default_factory=Counter)
    #: how often each check ran, and the statuses each operation answered
    checked: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, set[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    declared_links: int = 0
    inferred_links: int = 0
    seconds: float = 0.0
    warm_up_s: float = 0.0

    def summary(self) -> str:
        counts = ", ".join(f"{KINDS[check]} {self.by_check[check]}" for check in CHECKS)
        line = (f"schema fuzz: {self.requests} requests, {len(self.operations)} operations, {counts}; "
                f"links declared {self.declared_links}, inferred {self.inferred_links}; "
                f"{self.seconds:.1f} s after a {self.warm_up_s:.1f} s warm-up (MEDMAAS_SCHEMA_EXAMPLES={EXAMPLES})")
        line += "\n  checks run: " + ", ".join(f"{check} {self.checked[check]}" for check in CHECKS)
        return line


@dataclass
class Server:
    base: str
    key: str
    #: key ids that exist before the run: DELETE /v1/keys/{key_id} must not revoke them
    protected: frozenset[str]


@pytest.fixture(scope="module")
def server(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service on loopback over a copy of the trained home, with a key of the role that may do
    everything for the fuzzer; promotions, new keys and projects change only the copy."""
    from tests.integration.test_serving import live_server

    from medmaas.security.permissions import ACTIONS, PERMISSIONS, ROLES
    from medmaas.settings import Settings

    home = tmp_path_factory.mktemp("fuzz") / "home"
    shutil.copytree(trained_home, home)
    # The fuzzer sends faster than a client should: no per-key rate limit.
    overrides = {"rate_limit_per_s": 0} if "rate_limit_per_s" in Settings.model_fields else {}
    with live_server(home, **overrides) as (base, _keys, state):
        role = next(role for role in ROLES if PERMISSIONS[role] == ACTIONS)
        key, _ = state.keys.create("fuzzer", role, created_by="test")
        yield Server(base, key, frozenset(k.key_id for k in state.keys.list()))


def _examples() -> dict[tuple[str, str], dict[str, Any]]:
    """Valid requests against the trained home, per operation: path values and a body by media
    type. Random data rarely fits a model; these reach the predictions and their 200 answers."""
    from tests.conftest import breast_cancer_frame

    frame = breast_cancer_frame().drop(columns=["diagnosis"]).head(3)
    rows = frame.to_dict(orient="records")
    matrix = frame.to_numpy("float32")
    tensor = {"inputs": [{"name": "input", "shape": list(matrix.shape), "datatype": "FP32",
                          "data": matrix.reshape(-1).tolist()}]}
    wdbc = {"name": "wdbc"}
    return {
        ("POST", "/v1/models/{name}/predict"): {"path": wdbc, "body": {"rows": rows, "explain": True}},
        ("POST", "/v1/models/{name}/explain"): {"path": wdbc, "body": {"rows": rows[:1], "top_k": 3}},
        ("POST", "/v1/models/{name}/predict/csv"): {"path": wdbc, "body": frame.to_csv(index=False)},
        ("POST", "/v1/models/{name}/predict/file"): {"path": {"name": "blobs"}},
        ("POST", "/v1/models/{name}/explain/file"): {"path": {"name": "blobs"}},
        ("GET", "/v1/models/{name}/versions/{ref}"): {"path": {**wdbc, "ref": "production"}},
        ("GET", "/v1/models/{name}/versions/{ref}/card.md"): {"path": {**wdbc, "ref": "1"}},
        ("GET", "/v1/models/{name}/versions/{ref}/plots/{plot}"): {"path": {**wdbc, "ref": "1", "plot": "roc.png"}},
        ("POST", "/v1/models/{name}/versions/{version}/promote"): {
            "path": {"name": "mixed", "version": 1}, "body": {"stage": "staging", "reason": "fuzz"}},
        ("PUT", "/v1/models/{name}/aliases/{alias}"): {"path": {**wdbc, "alias": "champion"}, "body": {"version": 1}},
        ("POST", "/v1/deid"): {"body": {"text": "Seen by Dr. Healey on 2024-03-01, MRN 1234567.", "surrogates": True}},
        ("POST", "/v1/entities"): {"body": {"text": "Denies chest pain. History of MI. Mother had diabetes."}},
        ("POST", "/v1/keys"): {"body": {"name": "made-by-the-fuzzer", "role": "clinician"}},
        ("GET", "/v2/models/{name}/versions/{version}"): {"path": {**wdbc, "version": "production"}},
        ("GET", "/v2/models/{name}/versions/{version}/ready"): {"path": {**wdbc, "version": "1"}},
        ("POST", "/v2/models/{name}/infer"): {"path": wdbc, "body": tensor},
        ("POST", "/v2/models/{name}/versions/{version}/infer"): {"path": {**wdbc, "version": "1"}, "body": tensor},
    }


def _add_examples(document: dict[str, Any]) -> None:
    """Put the valid requests of ``_examples`` into the document, where schemathesis's examples
    phase reads them (a body example goes to the operation's first media type)."""
    for (method, path), example in _examples().items():
        operation = document["paths"][path][method.lower()]
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] in example.get("path", {}):
                parameter["example"] = example["path"][parameter["name"]]
        if "body" in example:
            content = operation["requestBody"]["content"]
            content[next(iter(content))]["example"] = example["body"]


def _warm_up(server: Server) -> None:
    """Send every example once, together, before fuzzing, and check it succeeds. The first
    explanation imports SHAP, the first note loads the de-identification lexicons and the
    medspaCy pipeline: seconds each on a busy machine, a cold start and not what is fuzzed."""
    from concurrent.futures import ThreadPoolExecutor

    png = _upload_files("PNG")[0]
    calls = [(method, path, example) for (method, path), example in _examples().items()
             if method == "POST" and "promote" not in path and "keys" not in path]

    def send(method: str, path: str, example: dict[str, Any]) -> tuple[str, int]:
        url = path.format(**example.get("path", {}))
        body = example.get("body")
        kwargs: dict[str, Any] = ({"files": {"file": ("blob.png", png, "image/png")}} if body is None
                                  else {"content": body, "headers": {"Content-Type": "text/csv"}}
                                  if isinstance(body, str) else {"json": body})
        kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {server.key}"}
        return url, httpx.request(method, server.base + url, timeout=180, **kwargs).status_code

    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda call: send(*call), calls))
    assert all(status == 200 for _, status in answers), answers


def _upload_files(fmt: str) -> list[bytes]:
    """16 × 16 grey images, as the "blobs" model was trained on, as PNG, JPEG or DICOM files."""
    from PIL import Image
    from tests.image_builders import blob_images, dicom_bytes

    files = []
    for image in blob_images(4, 16, seed=3)[0]:
        if fmt == "DICOM":
            files.append(dicom_bytes(*image[0].shape, bits=8, pixel_bytes=image[0].tobytes()))
            continue
        out = io.BytesIO()
        Image.fromarray(image[0]).save(out, format=fmt)
        files.append(out.getvalue())
    return files


def _upload_strategies() -> dict[str, Any]:
    """Files for the upload media types: real images the "blobs" model reads, and broken ones."""
    from hypothesis import strategies as st

    def files(fmt: str) -> Any:
        real = _upload_files(fmt)
        return st.one_of(st.sampled_from(real), st.sampled_from(real).map(lambda b: b[: len(b) // 2]),
                         st.binary(max_size=256))

    return {"image/png": files("PNG"), "image/jpeg": files("JPEG"), "application/dicom": files("DICOM")}


@pytest.fixture(scope="module")
def fuzz_run(server: Server) -> Tally:
    """Run schemathesis against the server once; what it found."""
    from schemathesis.core.media_types import MEDIA_TYPE_STRATEGIES
    from schemathesis.engine import events, from_schema
    from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

    document = httpx.get(f"{server.base}/openapi.json", timeout=30).json()
    started = time.monotonic()
    _warm_up(server)
    warm_up_s = time.monotonic() - started
    tally = Tally(warm_up_s=warm_up_s, declared_links=sum(len(response.get("links", {})) for item in document["paths"].values()
                                     for operation in item.values()
                                     for response in operation.get("responses", {}).values()))
    _add_examples(document)
    config = schemathesis.Config.from_dict({
        "base-url": server.base,
        "seed": SEED,
        "continue-on-failure": True,
        "request-timeout": 30,  # explanations on a busy 2-CPU machine
        "headers": {"Authorization": f"Bearer {server.key}"},
        "generation": {"mode": "all", "max-examples": EXAMPLES},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS},
                   # Over a limit (a note's characters, a body's bytes) is a refusal too.
                   "negative_data_rejection": {"enabled": True, "expected-statuses": [
                       400, 401, 403, 404, 405, 406, 409, 413, 415, 422]}},
        # Examples the document lacks are generated (the file uploads' bytes). No calls with
        # methods an operation does not have: 405s, which no check reads, 7 per operation.
        "phases": {"examples": {"fill-missing": True}, "coverage": {"unexpected-methods": []}},
    })
    schema = schemathesis.openapi.from_dict(document, config=config)

    def before_call(context: Any, case: Any, kwargs: Any) -> None:
        # Never revoke a key this run holds, however the key id was found (GET /v1/keys lists it).
        if case.method.upper() == "DELETE" and (case.path_parameters or {}).get("key_id") in server.protected:
            case.path_parameters["key_id"] = "nokey0000"

    added = {k: v for k, v in _upload_strategies().items() if k not in MEDIA_TYPE_STRATEGIES}
    for media_type, strategy in added.items():
        schemathesis.openapi.media_type(media_type, strategy)
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    started = time.monotonic()
    try:
        _collect(from_schema(schema).execute(), tally, events)
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)
        for media_type in added:
            MEDIA_TYPE_STRATEGIES.pop(media_type, None)
    tally.seconds = time.monotonic() - started
    return tally


def _collect(stream: Any, tally: Tally, events: Any) -> None:
    for event in stream:
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            tally.requests += len(recorder.interactions)
            for case_id, node in recorder.cases.items():
                case = node.value
                tally.operations.add(case.operation.label)
                if case.media_type:
                    tally.media_types.add((case.operation.path, case.media_type.split(";")[0]))
                interaction = recorder.interactions.get(case_id)
                if interaction is not None and interaction.response is not None:
                    tally.statuses.setdefault(case.operation.label, set()).add(interaction.response.status_code)
            for checks in recorder.checks.values():
                for check in checks:
                    tally.checked[check.name] += 1
                    info = check.failure_info
                    if info is None:
                        continue
                    failure = info.failure
                    tally.by_check[check.name] += 1
                    key = (recorder.label, check.name, failure.title)
                    tally.failures.setdefault(key, f"{failure.message}\n    {info.code_sample}")
        elif isinstance(event, events.PhaseStarted) and event.payload is not None:
            tally.inferred_links = event.payload.inferred_transitions
        elif isinstance(event, events.NonFatalError):
            tally.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise event.exception


def test_every_operation_answers_as_its_document_says(fuzz_run: Tally, server: Server,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    document = httpx.get(f"{server.base}/openapi.json", timeout=30).json()
    declared = {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item}
    with capsys.disabled():
        print("\n" + fuzz_run.summary())
    found = "\n".join(f"- {label} [{check}] {title}\n    {detail}"
                      for (label, check, title), detail in sorted(fuzz_run.failures.items()))
    assert not fuzz_run.failures, f"schemathesis found:\n{found}"
    assert not fuzz_run.errors, "\n".join(fuzz_run.errors)
    assert declared <= fuzz_run.operations, f"never called: {sorted(declared - fuzz_run.operations)}"
    assert fuzz_run.requests >= 10 * len(declared)
    assert all(fuzz_run.checked[check] for check in CHECKS), fuzz_run.checked


def test_the_examples_reach_the_successful_answers(fuzz_run: Tally) -> None:
    # Otherwise only error paths were fuzzed, and no 200 body was checked against its schema.
    failed = {f"{method} {path}": sorted(fuzz_run.statuses.get(f"{method} {path}", ()))
              for method, path in _examples()
              if not any(200 <= status < 300 for status in fuzz_run.statuses.get(f"{method} {path}", ()))}
    assert not failed, f"no 2xx answer for: {failed}"


def test_uploads_are_sent_in_every_declared_media_type(fuzz_run: Tally, server: Server) -> None:
    document = httpx.get(f"{server.base}/openapi.json", timeout=30).json()
    for path in UPLOADS:
        wanted = set(document["paths"][path]["post"]["requestBody"]["content"])
        sent = {media_type for p, media_type in fuzz_run.media_types if p == path}
        assert wanted <= sent, f"{path}: never sent as {sorted(wanted - sent)}"


def test_the_fuzzers_own_key_still_works(fuzz_run: Tally, server: Server) -> None:
    answer = httpx.get(f"{server.base}/v1/keys", headers={"Authorization": f"Bearer {server.key}"}, timeout=30)
    assert answer.status_code == 200, answer.text


def test_every_guarded_operation_declares_the_key_and_its_errors(server: Server) -> None:
    # Without a security scheme no client generator knows a key is needed (and ignored_auth
    # checks nothing); without its errors, a client cannot tell a refusal from a bug.
    document = httpx.get(f"{server.base}/openapi.json", timeout=30).json()
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (method.upper(), path) in PUBLIC:
                continue
            assert operation.get("security") == [{"HTTPBearer": []}, {"APIKeyHeader": []}], (method, path)
            named = {"404"} if "{" in path else set()  # an unknown name in the path
            assert {"401", "403", "429"} | named <= set(operation["responses"]), (method, path)


def _row() -> dict[str, Any]:
    from tests.conftest import breast_cancer_frame

    return breast_cancer_frame().drop(columns=["diagnosis"]).head(1).to_dict(orient="records")[0]


#: What the fuzzer found, pinned: a fixed seed finds each once, these find it every time.
FOUND = [
    # A datatype that is not a string was a 500 (an unhashable dict or list looked up in DTYPES).
    ("POST", "/v2/models/wdbc/infer", {"inputs": [{"name": "input", "datatype": {}, "shape": [1], "data": [1]}]}, 400),
    ("POST", "/v2/models/wdbc/infer", {"inputs": [{"name": "input", "datatype": ["FP32"], "shape": [1],
                                                   "data": [1]}]}, 400),
    # Coerced before: 0 was false and "3" was 3, and unknown fields passed unseen. The data plane
    # already refused them ("explain": 0 on /predict); now every JSON body does.
    ("POST", "/v1/deid", {"text": "Seen by Dr. Healey.", "surrogates": 0}, 422),
    ("POST", "/v1/deid", {"text": "Seen by Dr. Healey.", "language": "en"}, 422),
    ("POST", "/v1/entities", {"text": "No chest pain.", "sections": True}, 422),
    ("POST", "/v1/models/wdbc/explain", {"rows": "row", "top_k": "3"}, 422),
    ("PUT", "/v1/models/wdbc/aliases/champion", {"version": "1"}, 422),
    # Past a 64-bit integer, the database driver raised OverflowError: a 500.
    ("PUT", "/v1/models/wdbc/aliases/champion", {"version": 90337497720536369760695731424266813440}, 422),
    ("POST", "/v1/keys", {"name": "k", "role": "clinician", "expires_in_days": "30"}, 422),
    # A version reference past a 64-bit integer overflowed the query: a 500. Past the largest
    # version number it names no version.
    ("GET", "/v1/models/wdbc/versions/90337497720536369760695731424266813440", None, 404),
    ("GET", "/v2/models/wdbc/versions/2147483648/ready", None, 404),
    ("POST", "/v1/models/wdbc/predict?version=" + "9" * 5000, {"rows": "row"}, 404),
    ("POST", "/v1/models/wdbc/versions/2147483648/promote", {"stage": "staging"}, 422),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), FOUND)
def test_what_the_fuzzer_found_stays_fixed(server: Server, method: str, path: str, body: Any, status: int) -> None:
    if body is not None and body.get("rows") == "row":
        body = {**body, "rows": [_row()]}
    answer = httpx.request(method, server.base + path, json=body, timeout=60,
                           headers={"Authorization": f"Bearer {server.key}"})
    assert answer.status_code == status, answer.text
    assert set(answer.json()) == ({"error"} if path.startswith("/v2") else {"error", "request_id"})


def test_a_header_length_in_other_digits_is_a_400(server: Server) -> None:
    # "\xb2" (superscript two) passes str.isdigit() and then fails int(): it was a 500.
    answer = httpx.post(f"{server.base}/v2/models/wdbc/infer", content=b"{}", timeout=30,
                        headers={"Authorization": f"Bearer {server.key}", "Content-Type": "application/octet-stream",
                                 "Inference-Header-Content-Length": "\xb2".encode("latin-1")})
    assert answer.status_code == 400 and "Inference-Header-Content-Length" in answer.json()["error"], answer.text
