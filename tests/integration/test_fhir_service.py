"""FHIR R4 in and out on the built-in heart-failure model: Synthea Bundles map, predict and
come back as valid RiskAssessments; bad Bundles are 4xx naming the problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests import fhir_builders as fb

pytestmark = pytest.mark.integration
MODEL = "heart-failure-mortality"
PREDICT = "/fhir/r4/RiskAssessment/$predict"


@pytest.fixture(scope="module")
def fhir_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmaas.builtin.build import build_one
    from medmaas.builtin.catalog import builtin
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    home = tmp_path_factory.mktemp("fhir-home")
    registry = Registry.open(Settings(home=home))
    try:
        build_one(builtin(MODEL), registry, None, lambda _m, _f: None)
    finally:
        registry.close()
    return home


@pytest.fixture()
def fhir_api(fhir_home: Path, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    import shutil

    from tests.conftest import serve

    home = tmp_path / "home"
    shutil.copytree(fhir_home, home)
    yield from serve(home, max_body_bytes=8 * 1024 * 1024)


def _post(client: Any, key: str, bundle: Any, **params: str) -> Any:
    import json

    body = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    return client.post(PREDICT, content=body, params={"model": MODEL, **params},
                       headers={"Authorization": f"Bearer {key}", "Content-Type": "application/fhir+json"})


def test_a_synthea_bundle_comes_back_as_a_valid_risk_assessment(fhir_api: Any) -> None:
    from fhir.resources.R4B.riskassessment import RiskAssessment

    client, keys = fhir_api
    path = fb.EXAMPLES / "r4" / "Renato_Dare_f07e9b1d-9cc7-465e-8abc-94e84793d1fb.json"
    bundle = fb.load(path)
    at = fb.last_observation_time(bundle)
    response = _post(client, keys["clinician"], bundle, at=at)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource = response.json()
    RiskAssessment.model_validate(resource)
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert resource["subject"]["reference"] == patient["fullUrl"]
    assert resource["status"] == "final"
    assert resource["method"]["coding"][0]["code"] == MODEL
    prediction = resource["prediction"][0]
    assert 0.0 <= prediction["probabilityDecimal"] <= 1.0  # a fraction, never a percentage
    assert prediction["outcome"]["coding"][0]["code"] == "419620001"
    assert prediction["qualitativeRisk"]["coding"][0]["code"] in ("low", "moderate", "high")
    assert prediction["rationale"].startswith("Largest contributions")
    # The basis is the Patient and the observations read; each is an entry of the Bundle.
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert {b["reference"] for b in resource["basis"]} <= full_urls
    assert len(resource["basis"]) >= 4  # Patient, creatinine, sodium, platelets, smoking, ...
    notes = " ".join(n["text"] for n in resource["note"])
    assert "'ejection_fraction' not found" in notes  # Synthea has no echocardiography



def _predict_and_check(client: Any, key: str, path: Path) -> dict[str, Any]:
    from fhir.resources.R4B.riskassessment import RiskAssessment

    bundle = fb.load(path)
    response = _post(client, key, bundle, at=fb.last_observation_time(bundle))
    assert response.status_code == 200, f"{path.name}: {response.text}"
    resource = response.json()
    RiskAssessment.model_validate(resource)  # the round trip: what we answer parses as R4
    assert 0.0 <= resource["prediction"][0]["probabilityDecimal"] <= 1.0
    return resource


def test_every_shipped_example_maps_predicts_and_round_trips(fhir_api: Any) -> None:
    client, keys = fhir_api
    for path in fb.example_bundles():
        _predict_and_check(client, keys["clinician"], path)


@pytest.mark.skipif(not fb.shared_bundles(), reason="the shared Synthea set (../shared/data/fhir/r4) is absent")
def test_every_synthea_bundle_of_the_shared_set_round_trips(fhir_api: Any) -> None:
    client, keys = fhir_api
    basis_sizes = [len(_predict_and_check(client, keys["clinician"], path).get("basis", []))
                   for path in fb.shared_bundles()]
    assert len(basis_sizes) == 35
    assert min(basis_sizes) >= 2  # the Patient and at least the smoking status


def test_full_validation_reads_every_entry(fhir_api: Any) -> None:
    client, keys = fhir_api
    bundle = fb.load(fb.example_bundles()[0])
    claim = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim")
    claim["resource"]["status"] = 42  # a resource the model does not read
    assert _post(client, keys["clinician"], bundle).status_code == 200
    response = _post(client, keys["clinician"], bundle, validate="full")
    assert response.status_code == 422
    assert "(Claim/" in response.json()["issue"][0]["diagnostics"]


def test_errors_are_operation_outcomes_naming_the_problem(fhir_api: Any) -> None:
    client, keys = fhir_api
    stu3 = next((fb.EXAMPLES / "stu3").glob("*.json")).read_bytes()
    two = fb.patient_bundle(fb.patient_bundle()["entry"][0])
    mmol = fb.patient_bundle(fb.observation("2951-2", 3.1, "mg/dL", "2021-01-01"))
    cases = [
        (b'{"rows": []}', {}, 422, "invalid", "not a FHIR resource"),
        (stu3, {}, 422, "invalid", "form of FHIR STU3 and DSTU2"),
        (two, {}, 422, "invalid", "holds 2 Patients"),
        (mmol, {"at": "2021-02-01"}, 422, "invalid", "cannot convert 'mg/dL' to 'mmol/L'"),
        (fb.patient_bundle(), {"model": "no-such-model"}, 404, "not-found", "no-such-model"),
        (fb.patient_bundle(), {"at": "yesterday"}, 422, "invalid", "'at' must be a FHIR dateTime"),
    ]
    for body, params, status, code, words in cases:
        response = _post(client, keys["clinician"], body, **params)
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/fhir+json"
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == code
        assert words in outcome["issue"][0]["diagnostics"]
    anonymous = client.post(PREDICT, params={"model": MODEL}, content=b"{}")
    assert anonymous.status_code == 401
    assert anonymous.json()["issue"][0]["code"] == "login"
    # Every error under /fhir is labelled as the FHIR resource it is, whoever answers it: the
    # authentication above, a route that does not exist, a method a route does not take.
    unknown = client.get("/fhir/r4/Patient/1", headers={"Authorization": f"Bearer {keys['clinician']}"})
    wrong_method = client.get(PREDICT, params={"model": MODEL})
    for response in (anonymous, unknown, wrong_method):
        assert response.headers["content-type"] == "application/fhir+json", response.request.url
        assert response.json()["resourceType"] == "OperationOutcome"
    assert (unknown.status_code, wrong_method.status_code) == (404, 405)
    # ... and so the OpenAPI document says.
    errors = client.get("/openapi.json").json()["paths"]["/fhir/r4/RiskAssessment/$predict"]["post"]["responses"]
    assert {code: list(answer["content"]) for code, answer in errors.items() if code != "200"} == {
        code: ["application/fhir+json"] for code in ("401", "403", "404", "413", "422", "429", "501", "503")}


def test_a_fhir_prediction_is_audited_by_hash_without_patient_data(fhir_api: Any) -> None:
    import hashlib
    import json

    client, keys = fhir_api
    body = fb.example_bundles()[1].read_bytes()
    assert _post(client, keys["clinician"], body).status_code == 200
    events = client.get("/v1/audit", headers={"Authorization": f"Bearer {keys['auditor']}"}).json()
    event = next(e for e in events if e["resource"] == MODEL and e["action"].startswith("model."))
    assert event["action"] == "model.explain"  # the rationale is an explanation
    assert event["input_sha256"] == hashlib.sha256(body).hexdigest()
    patient = json.loads(body)["entry"][0]["resource"]
    assert patient["id"] not in json.dumps(events)


def test_the_capability_statement_names_the_operation(fhir_api: Any) -> None:
    client, _ = fhir_api
    statement = client.get("/fhir/r4/metadata").json()
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["rest"][0]["resource"][0]["operation"][0]["name"] == "predict"


def test_a_fhir_client_library_written_elsewhere_round_trips(fhir_home: Path, tmp_path: Path) -> None:
    """smart-on-fhir's fhirclient reads the CapabilityStatement, posts a Bundle it parsed
    with its own R4 models, and parses the RiskAssessment with them."""
    import shutil

    from fhirclient import client as fhir_client
    from fhirclient.models.bundle import Bundle
    from fhirclient.models.riskassessment import RiskAssessment
    from tests.integration.test_serving import live_server

    home = tmp_path / "home"
    shutil.copytree(fhir_home, home)
    with live_server(home, max_body_bytes=8 * 1024 * 1024) as (base, keys, _state):
        smart = fhir_client.FHIRClient(settings={"app_id": "medmaas-test", "api_base": f"{base}/fhir/r4/"})
        smart.server.session.headers["X-API-Key"] = keys["clinician"]
        smart.server.get_capability()
        assert smart.server.capabilityStatement.fhirVersion == "4.0.1"
        raw = fb.load(fb.example_bundles()[2])
        bundle = Bundle(raw)  # fhirclient's own strict R4 parse
        response = smart.server.post_json(f"RiskAssessment/$predict?model={MODEL}", bundle.as_json())
        assessment = RiskAssessment(response.json())
        assert assessment.status == "final"
        assert assessment.subject.reference == raw["entry"][0]["fullUrl"]
        assert 0.0 <= assessment.prediction[0].probabilityDecimal <= 1.0


def test_the_cli_answers_bundles_with_risk_assessments(fhir_home: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import shutil

    from fhir.resources.R4B.bundle import Bundle
    from tests.integration.test_cli import run

    home = tmp_path / "home"
    shutil.copytree(fhir_home, home)
    code, out, _ = run(capsys, home, "predict", MODEL, "--fhir", str(fb.EXAMPLES / "r4"), "--json")
    assert code == 0, out
    answer = json.loads(out)
    assert len(answer["risk_assessments"]) == 3 and answer["failed"] == []
    written = tmp_path / "risk.json"
    code, out, _ = run(capsys, home, "predict", MODEL, "--fhir", str(fb.example_bundles()[0]),
                       "--at", "2019-01-01", "--output", str(written))
    assert code == 0, out
    Bundle.model_validate_json(written.read_bytes())  # a collection of RiskAssessments
    code, _, err = run(capsys, home, "predict", MODEL, "--fhir", str(next((fb.EXAMPLES / "stu3").glob("*.json"))))
    assert code != 0
    assert "Ferry_Jacqui_51.json" in err and "not valid FHIR R4" in err and "Traceback" not in err


def test_train_from_fhir_bundles_then_serve_the_same_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from tests.conftest import serve
    from tests.integration.test_cli import run

    home = tmp_path / "home"
    cohort = fb.synthetic_cohort(tmp_path / "bundles")
    code, out, _ = run(capsys, home, "train", "--fhir", str(cohort), "--label-condition", "44054006",
                       "--name", "t2dm-risk", "--bootstrap", "200", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["metrics"]["auroc"] > 0.8  # glucose and BMI separate the synthetic groups
    run(capsys, home, "models", "promote", "t2dm-risk", str(result["version"]), "--stage", "production")
    for client, keys in serve(home):
        detail = client.get("/v1/models/t2dm-risk/versions/production", headers={"Authorization": f"Bearer {keys['clinician']}"}).json()
        spec = detail["spec"]
        sources = {f["name"]: f["fhir"] for f in spec["inputs"]}
        assert sources["glucose"]["codes"][0]["code"] == "2339-0"
        assert spec["output"]["fhir"]["code"] == "44054006"
        assert "ldl" not in sources  # no patient had it: left out, not imputed from nothing
        sick = fb.load(cohort / "patient_000.json")
        response = client.post(PREDICT, params={"model": "t2dm-risk", "at": "2017-12-31", "explain": "false"},
                               content=json.dumps(sick).encode(),
                               headers={"Authorization": f"Bearer {keys['clinician']}"})
        assert response.status_code == 200, response.text
        assert response.json()["prediction"][0]["outcome"]["coding"][0]["code"] == "44054006"


def test_train_from_fhir_without_a_label_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.integration.test_cli import run

    cohort = fb.synthetic_cohort(tmp_path / "bundles", n=12)
    code, _, err = run(capsys, tmp_path / "home", "train", "--fhir", str(cohort), "--name", "x")
    assert code != 0 and "--label-condition" in err
    code, _, err = run(capsys, tmp_path / "home", "train", "--fhir", str(tmp_path / "empty"), "--name", "x",
                       "--label-condition", "44054006")
    assert code != 0 and "no FHIR Bundles (*.json) found" in " ".join(err.split())


def test_the_python_client_sends_a_bundle_and_reads_operation_outcomes(fhir_api: Any) -> None:
    from medmaas.client import Client
    from medmaas.exceptions import InvalidInputError

    test_client, keys = fhir_api
    client = Client(api_key=keys["clinician"], transport=test_client._transport, base_url="http://testserver")
    path = fb.example_bundles()[0]
    resource = client.predict_fhir(MODEL, path, at=fb.last_observation_time(fb.load(path)), explain=False)
    assert resource["resourceType"] == "RiskAssessment"
    assert "rationale" not in resource["prediction"][0]
    with pytest.raises(InvalidInputError, match="holds no Patient"):
        client.predict_fhir(MODEL, {"resourceType": "Bundle", "type": "collection", "entry": []})


def test_a_bundle_over_the_size_limit_is_an_operation_outcome(fhir_home: Path, tmp_path: Path) -> None:
    import shutil

    from tests.conftest import serve

    home = tmp_path / "home"
    shutil.copytree(fhir_home, home)
    for client, keys in serve(home, max_body_bytes=64 * 1024):
        response = _post(client, keys["clinician"], fb.example_bundles()[0].read_bytes())
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/fhir+json"
        assert response.json()["issue"][0]["code"] == "too-costly"
