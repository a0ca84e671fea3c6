"""The FHIR mapping on hand-made Bundles whose every value is known: time windows, statuses,
aggregations, UCUM conversion, components, Conditions, the Patient; and the Bundle checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from tests import fhir_builders as fb

from medmaas.bundle.spec import FeatureSpec, FhirCode, FhirSource
from medmaas.exceptions import SchemaError
from medmaas.fhir.bundle import read_bundle
from medmaas.fhir.mapping import extract, wanted_codes
from medmaas.fhir.units import converter

AT = datetime(2021, 6, 1, tzinfo=UTC)


def _feature(name: str, **source: Any) -> FeatureSpec:
    return FeatureSpec(name=name, type="number", fhir=FhirSource(**source))


def _loinc(code: str) -> list[FhirCode]:
    return [FhirCode(system=fb.LOINC, code=code)]


def _extract(bundle: dict[str, Any], *features: FeatureSpec, at: datetime = AT) -> Any:
    record = read_bundle(orjson.dumps(bundle), wanted_codes(features))
    return extract(record, features, at)


GLUCOSE = [
    fb.observation("2339-0", 90, "mg/dL", "2020-01-10", index=1),
    fb.observation("2339-0", 120, "mg/dL", "2021-03-01", index=2),
    fb.observation("2339-0", 150, "mg/dL", "2021-05-01", index=3),
    fb.observation("2339-0", 400, "mg/dL", "2021-07-01", index=4),  # after the prediction time
    fb.observation("2339-0", 300, "mg/dL", "2021-05-20", index=5, status="preliminary"),
]


@pytest.mark.parametrize(("aggregation", "lookback", "expected", "n_used"), [
    ("last", None, 150, 1), ("first", None, 90, 1), ("min", None, 90, 3), ("max", None, 150, 3),
    ("mean", 365, 135, 2), ("count", 365, 2, 2), ("count", 30, 0, 0),
])
def test_observations_aggregate_over_the_window_before_the_prediction_time(
        aggregation: str, lookback: float | None, expected: float, n_used: int) -> None:
    feature = _feature("glucose", resource="Observation", codes=_loinc("2339-0"), unit="mg/dL",
                       aggregation=aggregation, lookback_days=lookback)
    out = _extract(fb.patient_bundle(*GLUCOSE), feature)
    assert out.row["glucose"] == pytest.approx(expected)
    assert len([ref for ref in out.basis if "-1" in ref]) == n_used  # observation fullUrls
    notes = " ".join(out.notes)
    assert "1 observation(s) after the prediction time ignored" in notes
    assert "1 observation(s) with status other than final/amended/corrected ignored" in notes


def test_a_value_after_the_prediction_time_never_leaks_into_the_row() -> None:
    feature = _feature("glucose", resource="Observation", codes=_loinc("2339-0"), unit="mg/dL")
    assert _extract(fb.patient_bundle(*GLUCOSE), feature, at=datetime(2021, 8, 1, tzinfo=UTC)).row["glucose"] == 400
    assert _extract(fb.patient_bundle(*GLUCOSE), feature, at=datetime(2021, 4, 1, tzinfo=UTC)).row["glucose"] == 120


def test_quantities_are_converted_to_the_models_unit_through_ucum() -> None:
    platelets = _feature("platelet", resource="Observation", codes=_loinc("777-3"), unit="/uL")
    glucose = _feature("glucose", resource="Observation", codes=_loinc("2339-0"), unit="g/L")
    bundle = fb.patient_bundle(fb.observation("777-3", 265, "10*3/uL", "2021-01-01", index=1),
                               fb.observation("2339-0", 90, "mg/dL", "2021-01-01", index=2))
    row = _extract(bundle, platelets, glucose).row
    assert row["platelet"] == pytest.approx(265_000)
    assert row["glucose"] == pytest.approx(0.9)
    assert converter("Cel", "[degF]")(37.0) == pytest.approx(98.6)


def test_an_unconvertible_unit_is_refused_naming_the_observation() -> None:
    glucose = _feature("glucose", resource="Observation", codes=_loinc("2339-0"), unit="mg/dL")
    bundle = fb.patient_bundle(fb.observation("2339-0", 5.4, "mmol/L", "2021-01-01", index=7))
    with pytest.raises(SchemaError, match=r"entry 1 \(Observation/obs-7\): 'glucose': cannot convert 'mmol/L' to "
                                          r"'mg/dL': the units measure different quantities"):
        _extract(bundle, glucose)


def test_blood_pressure_is_read_from_the_panels_components() -> None:
    panel = {"fullUrl": "urn:uuid:bp-1", "resource": {
        "resourceType": "Observation", "id": "bp", "status": "final",
        "code": {"coding": [{"system": fb.LOINC, "code": "85354-9"}]},
        "subject": {"reference": fb.PATIENT_REF}, "effectiveDateTime": "2021-02-01T10:00:00+01:00",
        "component": [
            {"code": {"coding": [{"system": fb.LOINC, "code": "8480-6"}]},
             "valueQuantity": {"value": 142, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": fb.LOINC, "code": "8462-4"}]},
             "valueQuantity": {"value": 91, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
        ]}}
    systolic = _feature("systolic", resource="Observation", codes=_loinc("8480-6"), unit="kPa")
    diastolic = _feature("diastolic", resource="Observation", codes=_loinc("8462-4"), unit="mm[Hg]")
    out = _extract(fb.patient_bundle(panel), systolic, diastolic)
    assert out.row == {"systolic": pytest.approx(142 * 0.133322, rel=1e-4), "diastolic": 91}
    assert out.basis == ["urn:uuid:bp-1"]


def test_conditions_count_while_active_at_the_prediction_time() -> None:
    diabetes = _feature("diabetes", resource="Condition", aggregation="present",
                        codes=[FhirCode(system=fb.SNOMED, code="44054006")])
    anaemia = _feature("anaemia", resource="Condition", aggregation="present",
                       codes=[FhirCode(system=fb.SNOMED, code="271737000")])
    bundle = fb.patient_bundle(fb.condition("44054006", "2015-01-01", index=1),
                               fb.condition("271737000", "2019-01-01", index=2, abated="2020-01-01"))
    assert _extract(bundle, diabetes, anaemia).row == {"diabetes": 1, "anaemia": 0}
    at_2019 = datetime(2019, 6, 1, tzinfo=UTC)
    assert _extract(bundle, diabetes, anaemia, at=at_2019).row == {"diabetes": 1, "anaemia": 1}
    assert _extract(bundle, diabetes, at=datetime(2014, 1, 1, tzinfo=UTC)).row == {"diabetes": 0}


def test_age_and_sex_come_from_the_patient() -> None:
    age = _feature("age", resource="Patient", attribute="age")
    sex = _feature("sex", resource="Patient", attribute="sex", values={"male": 1, "female": 0})
    out = _extract(fb.patient_bundle(birth="1950-06-02", gender="female"), age, sex)
    assert out.row == {"age": 70, "sex": 0}  # turns 71 the day after the prediction time


def test_missing_features_and_unknown_codes_are_reported_not_invented() -> None:
    smoking = _feature("smoking", resource="Observation", codes=_loinc("72166-2"), values={"266919005": 0})
    glucose = _feature("glucose", resource="Observation", codes=_loinc("2339-0"), unit="mg/dL", lookback_days=30)
    coded = {"fullUrl": "urn:uuid:smoke", "resource": {
        "resourceType": "Observation", "id": "s", "status": "final", "subject": {"reference": fb.PATIENT_REF},
        "code": {"coding": [{"system": fb.LOINC, "code": "72166-2"}]}, "effectiveDateTime": "2021-01-01",
        "valueCodeableConcept": {"coding": [{"system": fb.SNOMED, "code": "999999"}]}}}
    out = _extract(fb.patient_bundle(coded, *GLUCOSE[:1]), smoking, glucose)
    assert out.row == {"smoking": None, "glucose": None}
    assert out.missing == ["smoking", "glucose"]
    assert any("within 30 days before the prediction time" in n for n in out.notes)
    assert any("a code the model's mapping does not know" in n for n in out.notes)


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "the body is not JSON"),
    (b'{"rows": [{"age": 50}]}', "not a FHIR resource"),
    (b'{"resourceType": "Patient", "id": "p"}', "expected a FHIR Bundle; got a 'Patient'"),
    (orjson.dumps({"resourceType": "Bundle", "type": "document", "entry": []}), "Bundle.type 'document'"),
    (orjson.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}), "holds no Patient"),
    (orjson.dumps(fb.patient_bundle(fb.patient_bundle()["entry"][0])), "holds 2 Patients"),
    (orjson.dumps(fb.patient_bundle(fb.observation("2339-0", 90, "mg/dL", "2021-01-01", subject="urn:uuid:gone"))),
     r"entry 1 \(Observation/obs-0\): subject refers to 'urn:uuid:gone', which is not in the Bundle"),
    # FHIR R5 moved Bundle.issues in; R4 has no such element
    (orjson.dumps({**fb.patient_bundle(), "issues": {"resourceType": "OperationOutcome", "issue": []}}),
     r"not an R4 element: is this FHIR R5\?"),
    (orjson.dumps(fb.patient_bundle(fb.condition("44054006", "2015-01-01") | {"resource": {
        **fb.condition("44054006", "2015-01-01")["resource"], "clinicalStatus": "active"}})),
     "form of FHIR STU3 and DSTU2"),
])
def test_a_bundle_that_is_not_one_patients_r4_bundle_is_refused_with_the_reason(body: bytes, message: str) -> None:
    glucose = _feature("glucose", resource="Observation", codes=_loinc("2339-0"), unit="mg/dL")
    with pytest.raises(SchemaError, match=message):
        read_bundle(body, wanted_codes([glucose]))


def test_an_observation_whose_value_is_read_is_validated_first() -> None:
    bad = fb.observation("2339-0", 90, "mg/dL", "2021-01-01", index=3)
    bad["resource"]["valueQuantity"]["value"] = "ninety"
    glucose = _feature("glucose", resource="Observation", codes=_loinc("2339-0"), unit="mg/dL")
    with pytest.raises(SchemaError, match=r"entry 1 \(Observation/obs-3\) is not valid FHIR R4: valueQuantity.value"):
        _extract(fb.patient_bundle(bad), glucose)


def test_the_shipped_stu3_and_dstu2_examples_are_told_apart_from_r4() -> None:
    for folder in ("stu3", "dstu2"):
        (path,) = (fb.EXAMPLES / folder).glob("*.json")
        with pytest.raises(SchemaError, match="is not valid FHIR R4"):
            read_bundle(path.read_bytes())


def test_a_source_must_make_sense_for_its_resource() -> None:
    with pytest.raises(ValueError, match="needs attribute"):
        FhirSource(resource="Patient")
    with pytest.raises(ValueError, match="aggregates by 'present' or 'count'"):
        FhirSource(resource="Condition", codes=[FhirCode(system=fb.SNOMED, code="1")], aggregation="last")
