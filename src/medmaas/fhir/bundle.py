"""Read one patient's FHIR R4 Bundle: parse, check the envelope, validate what is read.

Parsing is lazy (simdjson): a Synthea Bundle is 1-3 MB, mostly claims and billing a model never
reads, and building Python objects for all of it costs 5-13 ms here. simdjson checks the whole
document's JSON in about a millisecond and only the Patient, the Conditions and the wanted
Observations become Python objects.

Validation uses fhir.resources' R4B models (R4B shares R4's resource shapes for Patient,
Observation and Condition; the package's default models are R5). Validating a whole Synthea
Bundle costs 40-700 ms here (``python -m benchmarks.interop.fhir``); medmaas validates the
envelope, the Patient, the Conditions a model reads and each Observation whose value it reads
(``mapping``), so whatever shapes a prediction has been validated; every Condition's status
is checked for the plain codes of STU3 and DSTU2. ``strict=True`` validates
every entry (``?validate=full`` on the route).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import simdjson

from medmaas.exceptions import SchemaError

#: Bundle types that carry data (a transaction from an EHR export, a collection, a search result)
BUNDLE_TYPES = frozenset({"transaction", "collection", "searchset", "batch"})
_OBJECT = (dict, simdjson.Object)


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
    """The Patient and the wanted Observations and Conditions of a Bundle; SchemaError naming
    the entry and the problem otherwise. ``wanted``: (system, code) pairs a mapping reads."""
    # A parser per call: simdjson's proxies must not outlive their parser's next document.
    bundle = _document(body, simdjson.Parser())
    _check_envelope(bundle)
    entries, known = _entries(bundle, frozenset(wanted), strict)
    patients = [e for e in entries if e.resource["resourceType"] == "Patient"]
    if not patients:
        raise SchemaError("the Bundle holds no Patient; send one patient's Patient with their Observations "
                          "and Conditions")
    if len(patients) > 1:
        where = ", ".join(str(p.index) for p in patients[:5])
        raise SchemaError(f"the Bundle holds {len(patients)} Patients (entries {where}); send one patient per Bundle")
    record = PatientRecord(patient=patients[0])
    names = _names_of(record.patient)
    for entry in entries:
        kind = entry.resource["resourceType"]
        if kind == "Condition":
            record.conditions.append(entry)
            validate(entry)  # a few per patient
        elif kind == "Observation":
            # Validated by the mapping once chosen (a patient has hundreds; a model reads a few).
            record.observations.append(entry)
        if kind in ("Condition", "Observation"):
            _check_subject(entry, names, known)
    validate(record.patient)
    if strict:
        for entry in entries:
            if entry.resource["resourceType"] != "Condition":
                validate(entry)
    return record


def _document(body: bytes | dict[str, Any], parser: Any) -> Any:
    if isinstance(body, dict):
        data: Any = body
    else:
        if not body:
            raise SchemaError("the request body is empty; send a FHIR R4 Bundle as JSON")
        try:
            data = parser.parse(body)
        except (ValueError, RuntimeError) as exc:  # RuntimeError: an integer beyond 64 bits
            raise SchemaError(f"the body is not JSON: {str(exc).split(':')[-1].strip()}") from None
    if not isinstance(data, _OBJECT) or "resourceType" not in data:
        raise SchemaError("the body is not a FHIR resource (no 'resourceType'); send a FHIR R4 Bundle")
    if data["resourceType"] != "Bundle":
        raise SchemaError(f"expected a FHIR Bundle; got a {data['resourceType']!r}: wrap the Patient and their "
                          "Observations and Conditions in a Bundle of type collection or transaction")
    return data


def items(value: Any) -> Any:
    """A JSON array's elements; nothing for anything else (a malformed element is validated,
    and named, when its resource is read)."""
    return value if isinstance(value, list | simdjson.Array) else ()


def _plain(value: Any) -> Any:
    """A simdjson proxy as Python objects (dicts and lists pass through)."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _check_envelope(bundle: Any) -> None:
    kind = bundle.get("type")
    if kind not in BUNDLE_TYPES:
        raise SchemaError(f"Bundle.type {kind!r} carries no patient data; use one of {', '.join(sorted(BUNDLE_TYPES))}")
    if not isinstance(bundle.get("entry"), list | simdjson.Array):
        raise SchemaError("the Bundle has no 'entry' list")
    # The envelope without its entries (validating 300 entry shells costs ~20 ms): catches
    # R5-only Bundle elements; each entry read is validated as its resource.
    _validate_as("Bundle", {k: _plain(bundle[k]) for k in bundle if k != "entry"}, "the Bundle")


def _entries(bundle: Any, wanted: frozenset[Code], strict: bool) -> tuple[list[Entry], frozenset[str]]:
    """The entries a model reads, as Python objects, and the references of every entry."""
    read: list[Entry] = []
    known: set[str] = set()
    for index, item in enumerate(bundle["entry"]):
        if not isinstance(item, _OBJECT):
            raise SchemaError(f"entry {index} is not an object")
        resource = item.get("resource")
        if resource is None:
            continue  # a transaction-response entry without a resource carries nothing to read
        if not isinstance(resource, _OBJECT) or not isinstance(resource.get("resourceType"), str):
            raise SchemaError(f"entry {index}: the resource has no 'resourceType'")
        kind = resource["resourceType"]
        full_url = item.get("fullUrl")
        ref = full_url if isinstance(full_url, str) and full_url else f"{kind}/{resource.get('id', index)}"
        known.update((ref, f"{kind}/{resource.get('id')}"))
        if kind == "Condition":
            _check_condition_version(resource, index)
        if strict or kind == "Patient" or (kind in ("Observation", "Condition") and _has_code(resource, wanted)):
            read.append(Entry(index, ref, _plain(resource)))
    return read, frozenset(known)


def _check_condition_version(condition: Any, index: int) -> None:
    """STU3 and DSTU2 write a Condition's status as a plain code, R4 as a CodeableConcept: a
    check on every Condition, read or not, so an older Bundle is refused instead of misread."""
    for element in ("clinicalStatus", "verificationStatus"):
        if isinstance(condition.get(element), str):
            raise SchemaError(f"entry {index} (Condition/{condition.get('id', '?')}) is not valid FHIR R4: "
                              f"{element}: must be a CodeableConcept; got {json.dumps(condition.get(element))} "
                              "(a plain code here is the form of FHIR STU3 and DSTU2)")


def _names_of(entry: Entry) -> frozenset[str]:
    """Every reference string that points at this entry: its fullUrl and Type/id."""
    resource = entry.resource
    names = {entry.ref}
    if "id" in resource:
        names.add(f"{resource['resourceType']}/{resource['id']}")
    return frozenset(names)


def _check_subject(entry: Entry, patient_names: frozenset[str], known: frozenset[str]) -> None:
    subject = entry.resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, dict) else None
    if reference is not None and not isinstance(reference, str):
        validate(entry)  # names the malformed element
        raise SchemaError(f"{entry.label}: subject.reference must be text")
    if reference is None or reference in patient_names:
        return
    # An absolute URL ending in Patient/<id> (a server's base in front) is the same patient.
    if any(reference.endswith("/" + name) for name in patient_names if name.startswith("Patient/")):
        return
    where = "not the Bundle's Patient" if reference in known else "not in the Bundle"
    raise SchemaError(f"{entry.label}: subject refers to {reference!r}, which is {where}")


def _has_code(resource: Any, wanted: frozenset[Code]) -> bool:
    return any(pair(c) in wanted for c in codings(resource))


def codings(resource: Any) -> Iterator[Any]:
    """The codings of a resource's code and of its components' codes."""
    yield from _codings(resource.get("code"))
    for component in items(resource.get("component")):
        if isinstance(component, _OBJECT):
            yield from _codings(component.get("code"))


def _codings(concept: Any) -> Iterator[Any]:
    if isinstance(concept, _OBJECT):
        for coding in items(concept.get("coding")):
            if isinstance(coding, _OBJECT):
                yield coding


def pair(coding: Any) -> Code | None:
    """(system, code) of a coding, when both are text (a set lookup needs hashable parts)."""
    system, code = coding.get("system"), coding.get("code")
    return (system, code) if isinstance(system, str) and isinstance(code, str) else None


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
