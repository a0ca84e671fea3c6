"""FHIR Bundles for tests: the shipped Synthea examples, the shared set when present, and
small hand-made Bundles whose every value is known."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "fhir"
SHARED_R4 = ROOT.parent / "shared" / "data" / "fhir" / "r4"
PATIENT_REF = "urn:uuid:0b8a1f4e-0000-4000-8000-000000000001"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


def example_bundles() -> list[Path]:
    return sorted((EXAMPLES / "r4").glob("*.json"))


def shared_bundles() -> list[Path]:
    return sorted(SHARED_R4.glob("*.json")) if SHARED_R4.is_dir() else []


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def last_observation_time(bundle: dict[str, Any]) -> str:
    """The latest effectiveDateTime in a Bundle: a prediction time at which its data is recent."""
    times = [e["resource"]["effectiveDateTime"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "Observation" and "effectiveDateTime" in e["resource"]]
    return max(times)


def observation(code: str, value: float, unit: str, when: str, *, status: str = "final",
                index: int = 0, subject: str = PATIENT_REF) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:0b8a1f4e-0000-4000-8000-1{index:011d}", "resource": {
        "resourceType": "Observation", "id": f"obs-{index}", "status": status,
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": subject}, "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}}


def condition(code: str, onset: str, *, index: int = 0, abated: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition", "id": f"cond-{index}",
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "resolved" if abated else "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "subject": {"reference": PATIENT_REF}, "onsetDateTime": onset}
    if abated:
        resource["abatementDateTime"] = abated
    return {"fullUrl": f"urn:uuid:0b8a1f4e-0000-4000-8000-2{index:011d}", "resource": resource}


def patient_bundle(*entries: dict[str, Any], birth: str = "1950-06-01", gender: str = "female",
                   kind: str = "collection") -> dict[str, Any]:
    patient = {"fullUrl": PATIENT_REF, "resource": {"resourceType": "Patient", "id": "p1", "gender": gender,
                                                    "birthDate": birth}}
    return {"resourceType": "Bundle", "type": kind, "entry": [patient, *copy.deepcopy(list(entries))]}


def synthetic_cohort(folder: Path, n: int = 48, seed: int = 0) -> Path:
    """``n`` one-patient Bundles in ``folder``: glucose and BMI rise before a type 2 diabetes
    diagnosis (SNOMED 44054006) in about half of them."""
    import json
    import random

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sick = i % 2 == 0
        entries = []
        for j, year in enumerate((2015, 2016, 2017)):
            glucose = rng.gauss(135 if sick else 95, 12)
            bmi = rng.gauss(32 if sick else 25, 3)
            entries.append(observation("2339-0", round(glucose, 1), "mg/dL", f"{year}-03-0{j + 1}", index=2 * j))
            entries.append(observation("39156-5", round(bmi, 1), "kg/m2", f"{year}-03-0{j + 1}", index=2 * j + 1))
        if sick:
            entries.append(condition("44054006", "2018-01-15"))
        else:  # later data of the others: their prediction time is their latest observation
            entries.append(observation("2339-0", round(rng.gauss(95, 12), 1), "mg/dL", "2018-06-01", index=9))
        bundle = patient_bundle(*entries, birth=f"{rng.randint(1940, 1980)}-05-05",
                                gender=rng.choice(("male", "female")), kind="transaction")
        (folder / f"patient_{i:03d}.json").write_text(json.dumps(bundle), encoding="utf-8")
    return folder
