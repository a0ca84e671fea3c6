"""A prediction as a FHIR R4 RiskAssessment, validated (R4B) before it is returned.

Probability convention: ``prediction.probabilityDecimal`` is a fraction in [0, 1], never a
percentage. FHIR's invariant ras-2 only bounds it by 100, so a reader cannot tell 0.3 % from
30 % by the number alone; medmaas always sends the fraction and says so in the model card.
``qualitativeRisk`` (http://terminology.hl7.org/CodeSystem/risk-probability) is read off the
model's decision threshold t: high when p >= t, moderate when t/2 <= p < t, low below t/2.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import SchemaError
from medmaas.fhir.bundle import PatientRecord
from medmaas.fhir.mapping import Extraction
from medmaas.fhir.times import fhir_datetime

RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
MODEL_SYSTEM = "urn:medmaas:model"
REQUEST_SYSTEM = "urn:medmaas:request"


def qualitative_risk(probability: float, threshold: float) -> str:
    if probability >= threshold:
        return "high"
    return "moderate" if probability >= threshold / 2 else "low"


def risk_assessment(*, name: str, version: int, spec: ModelSpec, prediction: dict[str, Any],
                    record: PatientRecord, extraction: Extraction, at: datetime, request_id: str,
                    explanation: dict[str, Any] | None = None) -> dict[str, Any]:
    """The RiskAssessment for one patient's prediction; SchemaError if the model is not a
    classifier (a RiskAssessment carries probabilities)."""
    if spec.task != "classification":
        raise SchemaError(f"model '{name}' is a regression model; a FHIR RiskAssessment carries probabilities, "
                          f"so ask /v1/models/{name}/predict for its value")
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "identifier": [{"system": REQUEST_SYSTEM, "value": request_id}],
        "status": "final",
        "subject": {"reference": record.patient.ref},
        "occurrenceDateTime": fhir_datetime(at),
        "method": {"coding": [{"system": MODEL_SYSTEM, "code": name, "version": str(version),
                               "display": f"{name} v{version} ({spec.estimator})"}],
                   "text": f"medmaas model {name} version {version}"},
        "prediction": _predictions(spec, prediction, explanation),
    }
    if extraction.basis:
        resource["basis"] = [{"reference": ref} for ref in extraction.basis]
    # The model's own imputation warnings repeat what the mapping said of missing features.
    repeated = tuple(f"'{name}' not given" for name in extraction.missing)
    notes = extraction.notes + [w for w in prediction.get("warnings", []) if not w.startswith(repeated)]
    if notes:
        resource["note"] = [{"text": text} for text in notes]
    _validate(resource)
    return resource


def _predictions(spec: ModelSpec, prediction: dict[str, Any], explanation: dict[str, Any] | None) -> list[dict[str, Any]]:
    classes = spec.output.classes or []
    probabilities = prediction["probabilities"]
    rationale = _rationale(explanation)
    if spec.output.positive_class is not None:  # binary: the risk of the positive class
        probability = float(probabilities[spec.output.positive_class])
        item: dict[str, Any] = {
            "outcome": _outcome(spec, spec.output.positive_class),
            "probabilityDecimal": probability,
            "qualitativeRisk": {"coding": [{"system": RISK_PROBABILITY,
                                            "code": qualitative_risk(probability, spec.output.threshold or 0.5)}]},
        }
        if rationale:
            item["rationale"] = rationale
        return [item]
    items = [{"outcome": _outcome(spec, c), "probabilityDecimal": float(probabilities[c])} for c in classes]
    if rationale:
        top = max(items, key=lambda i: i["probabilityDecimal"])
        top["rationale"] = rationale
    return items


def _outcome(spec: ModelSpec, label: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": f"{spec.output.target} = {label}"}
    if spec.output.fhir is not None and label == spec.output.positive_class:
        concept["coding"] = [spec.output.fhir.model_dump(exclude_none=True)]
    return concept


def _rationale(explanation: dict[str, Any] | None) -> str | None:
    """The top contributions in words: which values raised or lowered the predicted risk."""
    if not explanation or not explanation.get("contributions"):
        return None
    parts = []
    for item in explanation["contributions"]:
        value = item.get("value")
        shown = "missing" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
        direction = "raised" if item["contribution"] > 0 else "lowered"
        parts.append(f"{item['feature']} = {shown} {direction} it by {abs(item['contribution']):.3f}")
    return "Largest contributions to the predicted probability (SHAP): " + "; ".join(parts)


def _validate(resource: dict[str, Any]) -> None:
    from fhir.resources.R4B.riskassessment import RiskAssessment

    try:
        RiskAssessment.model_validate(resource)
    except Exception as exc:  # a defect of ours, not of the request: say what broke
        raise RuntimeError(f"the RiskAssessment built for this prediction is not valid FHIR R4: {exc}") from exc
