"""The FHIR steps the route and the CLI share: a Bundle -> a model's row; a prediction -> a
RiskAssessment. Inference itself stays with the caller (the server's batcher and audit, or
the CLI's local run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import SchemaError
from medmaas.fhir.bundle import PatientRecord, read_bundle
from medmaas.fhir.mapping import Extraction, extract, mapped, wanted_codes
from medmaas.fhir.times import instant


@dataclass
class FhirRequest:
    record: PatientRecord
    extraction: Extraction
    at: datetime

    @property
    def payload(self) -> dict[str, Any]:
        """The decode payload of the model's kind: one JSON row."""
        return {"rows": [self.extraction.row]}


def prediction_time(text: str | None) -> datetime:
    """``at`` from a request (a FHIR dateTime); now when not given."""
    if text is None:
        return datetime.now(UTC)
    moment = instant(text)
    if moment is None:
        raise SchemaError(f"'at' must be a FHIR dateTime such as 2021-04-17 or 2021-04-17T09:30:00Z; got {text!r}")
    return moment


def bundle_request(spec: ModelSpec, body: bytes | dict[str, Any], at: datetime, *,
                   strict: bool = False) -> FhirRequest:
    """Read a Bundle for a model: validate, map, and refuse when a required feature has no value."""
    mapped(spec.inputs)
    if any(f.type not in ("number", "string") for f in spec.inputs):
        raise SchemaError(f"FHIR input serves models of table features; this is a {spec.kind} model")
    wanted = spec.memo("fhir_wanted_codes", lambda: frozenset(wanted_codes(spec.inputs)))
    record = read_bundle(body, wanted, strict=strict)
    extraction = extract(record, spec.inputs, at)
    absent = [f.name for f in spec.inputs if f.required and extraction.row.get(f.name) is None]
    if absent:
        raise SchemaError(f"the Bundle has no value for required feature(s) {', '.join(absent)} at "
                          f"{at.date().isoformat()}; see the model's FHIR mapping (GET /v1/models/{{name}})")
    return FhirRequest(record, extraction, at)
