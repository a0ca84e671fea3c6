"""Read one patient's FHIR R4 Bundle: parse, check the envelope, validate what is read.

Validation uses fhir.resources' R4B models (R4B shares R4's resource shapes for Patient,
Observation and Condition; the package's default models are R5). Validating a whole Synthea
Bundle (claims, billing, care plans) costs 75-390 ms here; medmaas validates the envelope, the
Patient, every Condition and each Observation whose value it reads (``mapping``), so whatever
shapes a prediction has been validated and a typical round trip stays near 10 ms.
``strict=True`` validates every entry (``?validate=full`` on the route).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from medmaas.exceptions import SchemaError

#: Bundle types that carry data (a transaction from an EHR export, a collection, a search result)
BUNDLE_TYPES = frozenset({"transaction", "collection", "searchset", "batch"})


@dataclass(frozen=True)
class Entry:
    """A resource of the Bundle and how others refer to it (its fullUrl, else Type/id)."""

    index: int
    ref: str
    resource: dict[str, Any]

    @property
    def label(self) -> str:
        return f"entry {self.index} ({self.resource.get('resourceType')}/{self.resource.get('id', '?')})"


@dataclass
class PatientRecord:
    """The resources of one patient that a mapping reads, validated."""

    patient: Entry
    observations: list[Entry] = field(default_factory=list)
    conditions: list[Entry] = field(default_factory=list)


Code = tuple[str, str]


def read_bundle(body: bytes | dict[str, Any], wanted: Iterable[Code] = (), *,
                strict: bool = False) -> PatientRecord:
    """The Patient, Conditions and wanted Observations of a Bundle; SchemaError naming the
    entry and the problem otherwise. ``wanted``: (system, code) pairs a mapping reads."""
    bundle = _parse(body)
    _check_envelope(bundle, strict)
    entries = list(_entries(bundle))
    patients = [e for e in entries if e.resource.get("resourceType") == "Patient"]
    if not patients:
        raise SchemaError("the Bundle holds no Patient; send one patient's Patient with their Observations "
                          "and Conditions")
    if len(patients) > 1:
        where = ", ".join(str(p.index) for p in patients[:5])
        raise SchemaError(f"the Bundle holds {len(patients)} Patients (entries {where}); send one patient per Bundle")
    record = PatientRecord(patient=patients[0])
    names = _names_of(record.patient)
    wanted = frozenset(wanted)
    for entry in entries:
        kind = entry.resource.get("resourceType")
        if kind == "Condition":
            record.conditions.append(entry)
            validate(entry)  # few per patient, and where STU3 data shows itself
        elif kind == "Observation" and (strict or _has_code(entry.resource, wanted)):
            # Validated by the mapping once chosen (a patient has hundreds; a model reads a few).
            record.observations.append(entry)
        if kind in ("Condition", "Observation"):
            _check_subject(entry, names, entries)
    validate(record.patient)
    if strict:
        for entry in entries:
            if entry.resource.get("resourceType") != "Condition":
                validate(entry)
    return record


def _parse(body: bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(body, dict):
        data = body
    else:
        if not body:
            raise SchemaError("the request body is empty; send a FHIR R4 Bundle as JSON")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise SchemaError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict) or "resourceType" not in data:
        raise SchemaError("the body is not a FHIR resource (no 'resourceType'); send a FHIR R4 Bundle")
    if data["resourceType"] != "Bundle":
        raise SchemaError(f"expected a FHIR Bundle; got a {data['resourceType']!r}: wrap the Patient and their "
                          "Observations and Conditions in a Bundle of type collection or transaction")
    return data


def _check_envelope(bundle: dict[str, Any], strict: bool) -> None:
    kind = bundle.get("type")
    if kind not in BUNDLE_TYPES:
        raise SchemaError(f"Bundle.type {kind!r} carries no patient data; use one of {', '.join(sorted(BUNDLE_TYPES))}")
    if not isinstance(bundle.get("entry"), list):
        raise SchemaError("the Bundle has no 'entry' list")
    if strict:
        return  # the whole Bundle is validated resource by resource, then as a whole
    # The envelope without its entries (validating 300 entry shells costs ~20 ms): catches
    # R5-only Bundle elements; each entry read is validated as its resource.
    _validate_as("Bundle", {k: v for k, v in bundle.items() if k != "entry"}, "the Bundle")


def _entries(bundle: dict[str, Any]) -> Iterator[Entry]:
    for index, item in enumerate(bundle["entry"]):
        if not isinstance(item, dict):
            raise SchemaError(f"entry {index} is not an object")
        resource = item.get("resource")
        if resource is None:
            continue  # a transaction-response entry without a resource carries nothing to read
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise SchemaError(f"entry {index}: the resource has no 'resourceType'")
        ref = item.get("fullUrl") or f"{resource['resourceType']}/{resource.get('id', index)}"
        yield Entry(index, ref, resource)


def _names_of(entry: Entry) -> frozenset[str]:
    """Every reference string that points at this entry: its fullUrl, Type/id and the
    fullUrl's tail (an absolute URL ending in Patient/123)."""
    resource = entry.resource
    names = {entry.ref}
    if "id" in resource:
        names.add(f"{resource['resourceType']}/{resource['id']}")
    return frozenset(names)


def _check_subject(entry: Entry, patient_names: frozenset[str], entries: list[Entry]) -> None:
    subject = entry.resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if reference is None or reference in patient_names or reference.endswith(tuple("/" + n for n in patient_names if "/" in n and not n.startswith(("urn:", "http")))):
        return
    known = any(reference in _names_of(other) for other in entries)
    if not known:
        raise SchemaError(f"{entry.label}: subject refers to {reference!r}, which is not in the Bundle")
    raise SchemaError(f"{entry.label}: subject refers to {reference!r}, which is not the Bundle's Patient")


def _has_code(resource: dict[str, Any], wanted: frozenset[Code]) -> bool:
    if not wanted:
        return False
    return any((c.get("system"), c.get("code")) in wanted for c in codings(resource))


def codings(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The codings of a resource's code and of its components' codes."""
    yield from _codings(resource.get("code"))
    for component in resource.get("component") or ():
        if isinstance(component, dict):
            yield from _codings(component.get("code"))


def _codings(concept: Any) -> Iterator[dict[str, Any]]:
    if isinstance(concept, dict):
        for coding in concept.get("coding") or ():
            if isinstance(coding, dict):
                yield coding


def validate(entry: Entry) -> None:
    _validate_as(entry.resource["resourceType"], entry.resource, entry.label)


@cache
def _model(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def _validate_as(resource_type: str, data: dict[str, Any], label: str) -> None:
    try:
        model = _model(resource_type)
    except (KeyError, ValueError, AttributeError):
        raise SchemaError(f"{label}: {resource_type!r} is not a FHIR R4 resource type") from None
    try:
        model.model_validate(data)
    except Exception as exc:  # pydantic's ValidationError; fhir.resources raises KeyError on DSTU2 shapes
        raise SchemaError(f"{label} is not valid FHIR R4: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"{type(exc).__name__} {exc} (an older FHIR version such as DSTU2?)"
    first = errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__")
    message = first.get("msg", "invalid")
    hint = ""
    if first.get("type") == "extra_forbidden":
        hint = " (not an R4 element: is this FHIR R5?)"
    elif where.split(".")[0] in ("clinicalStatus", "verificationStatus") and isinstance(first.get("input"), str):
        message, hint = "must be a CodeableConcept", " (a plain code here is the form of FHIR STU3 and DSTU2)"
    shown = "" if first.get("input") is None else f"; got {json.dumps(first.get('input'))[:80]}"
    return f"{where}: {message}{shown}{hint}" if where else f"{message}{hint}"
