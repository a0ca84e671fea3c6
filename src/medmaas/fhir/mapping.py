"""A patient's FHIR resources -> one feature row, as the model's ``FhirSource`` mapping says.

Rules a clinician would check, applied to every feature:
- only what was known at the prediction time counts: resources timed after it are ignored
  (no leakage from the future), and so are those before the feature's look-back window;
- only Observations with status final, amended or corrected count;
- quantities are converted to the unit the model was trained in (UCUM);
- a feature with nothing to read is reported as missing and imputed as in training.
The resources used are validated (R4B) before their values are read, and become the
RiskAssessment's basis.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from medmaas.bundle.spec import FeatureSpec, FhirSource
from medmaas.exceptions import SchemaError
from medmaas.fhir.bundle import Entry, PatientRecord, codings, items, pair, validate
from medmaas.fhir.times import age_in_years, instant
from medmaas.fhir.units import converter

FINAL_STATUSES = frozenset({"final", "amended", "corrected"})
ACTIVE_CONDITION = frozenset({"active", "recurrence", "relapse"})
UCUM = "http://unitsofmeasure.org"


@dataclass
class Extraction:
    """One patient's feature row and how it was obtained (no values in ``notes``: counts only,
    since notes may reach logs)."""

    row: dict[str, Any]
    basis: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def wanted_codes(features: Iterable[FeatureSpec]) -> set[tuple[str, str]]:
    """The (system, code) pairs of the Observations and Conditions a model reads."""
    return {(c.system, c.code) for f in features if f.fhir for c in f.fhir.codes}


def mapped(features: Sequence[FeatureSpec]) -> list[FeatureSpec]:
    """The features with a FHIR source; SchemaError when a model has none."""
    sources = [f for f in features if f.fhir is not None]
    if not sources:
        raise SchemaError("this model declares no FHIR mapping for its features; train it with "
                          "'medmaas train --fhir' or give its spec's features 'fhir' sources")
    return sources


def extract(record: PatientRecord, features: Sequence[FeatureSpec], at: datetime) -> Extraction:
    out = Extraction(row={})
    used: dict[str, None] = {}  # ordered set of references
    skipped: Counter[str] = Counter()
    for feature in features:
        source = feature.fhir
        if source is None:
            out.row[feature.name] = None
            out.missing.append(feature.name)
            out.notes.append(f"'{feature.name}' has no FHIR source; imputed as in training")
            continue
        if source.resource == "Patient":
            value, refs = _patient(record.patient, source, at), [record.patient.ref]
        elif source.resource == "Condition":
            value, refs = _condition(record.conditions, source, at)
        else:
            value, refs = _observation(record.observations, source, at, feature.name, skipped)
        out.row[feature.name] = value
        if value is None:
            out.missing.append(feature.name)
            out.notes.append(f"'{feature.name}' not found in the Bundle{_window(source)}; imputed as in training")
        else:
            used.update(dict.fromkeys(refs))
    out.basis = list(used)
    out.notes += [f"{n} {why} ignored" for why, n in sorted(skipped.items())]
    return out


def _window(source: FhirSource) -> str:
    return "" if source.lookback_days is None else f" within {source.lookback_days:g} days before the prediction time"


def _patient(entry: Entry, source: FhirSource, at: datetime) -> Any:
    patient = entry.resource
    if source.attribute == "age":
        birth = patient.get("birthDate")
        try:
            born = date.fromisoformat(birth) if isinstance(birth, str) and len(birth) == 10 else None
        except ValueError:
            born = None
        return None if born is None else age_in_years(born, at)
    gender = patient.get("gender")
    if gender is None:
        return None
    return (source.values or {}).get(gender, gender if source.values is None else None)


def _condition(conditions: list[Entry], source: FhirSource, at: datetime) -> tuple[Any, list[str]]:
    codes = {(c.system, c.code) for c in source.codes}
    matching = [e for e in conditions if any(pair(c) in codes for c in codings(e.resource))]
    on_record = [e for e in matching if _condition_known(e.resource, at)]
    if source.aggregation == "count":
        return len(on_record), [e.ref for e in on_record]
    active = [e for e in on_record if _condition_active(e.resource, at)]
    return (1 if active else 0), [e.ref for e in active]


def _condition_known(condition: dict[str, Any], at: datetime) -> bool:
    verification = _code(condition.get("verificationStatus"))
    if verification in ("refuted", "entered-in-error"):
        return False
    began = instant(condition.get("onsetDateTime")) or instant(condition.get("recordedDate"))
    return began is None or began <= at


def _condition_active(condition: dict[str, Any], at: datetime) -> bool:
    ended = instant(condition.get("abatementDateTime"))
    if ended is not None:
        return ended > at  # resolved since the prediction time: it was active then
    status = _code(condition.get("clinicalStatus"))
    return status is None or status in ACTIVE_CONDITION


def _code(concept: Any) -> str | None:
    if isinstance(concept, dict):
        for coding in items(concept.get("coding")):
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                return coding["code"]
    return None


def _observation(observations: list[Entry], source: FhirSource, at: datetime, name: str,
                 skipped: Counter[str]) -> tuple[Any, list[str]]:
    codes = {(c.system, c.code) for c in source.codes}
    since = None if source.lookback_days is None else at - timedelta(days=source.lookback_days)
    timed: list[tuple[datetime, Entry, dict[str, Any]]] = []
    for entry in observations:
        for holder in _holders(entry.resource, codes):
            status = entry.resource.get("status")
            when = effective_time(entry.resource)
            if not isinstance(status, str) or status not in FINAL_STATUSES:
                skipped["observation(s) with status other than final/amended/corrected"] += 1
            elif when is None:
                skipped["observation(s) without an effective time"] += 1
            elif when > at:
                skipped["observation(s) after the prediction time"] += 1
            elif since is None or when >= since:
                timed.append((when, entry, holder))
    if not timed:
        return (0, []) if source.aggregation == "count" else (None, [])
    timed.sort(key=lambda item: item[0])
    if source.aggregation == "count":
        return len(timed), [e.ref for _, e, _ in timed]
    unknown = f"'{name}' observation(s) with a code the model's mapping does not know"
    if source.aggregation in ("last", "first"):
        for _, entry, holder in (reversed(timed) if source.aggregation == "last" else timed):
            validate(entry)  # its value is about to be read
            value = _value(holder, source, entry, name)
            if value is not None:
                return value, [entry.ref]
            skipped[unknown] += 1
        return None, []
    values, refs = [], []
    for _, entry, holder in timed:
        validate(entry)
        value = _value(holder, source, entry, name)
        if value is None:
            skipped[unknown] += 1
            continue
        if isinstance(value, str):
            raise SchemaError(f"'{name}' aggregates with {source.aggregation}, but its observations hold coded values")
        values.append(value)
        refs.append(entry.ref)
    if not values:
        return None, []
    combine = {"min": min, "max": max, "mean": lambda v: sum(v) / len(v)}[source.aggregation]
    return combine(values), refs


def _holders(observation: dict[str, Any], codes: set[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    """The parts of an Observation that carry a wanted code: itself, or its components (a blood
    pressure panel holds systolic and diastolic as components)."""
    if _matches(observation.get("code"), codes):
        yield observation
    for component in items(observation.get("component")):
        if isinstance(component, dict) and _matches(component.get("code"), codes):
            yield component


def _matches(concept: Any, codes: set[tuple[str, str]]) -> bool:
    return isinstance(concept, dict) and any(
        isinstance(c, dict) and pair(c) in codes for c in items(concept.get("coding")))


def effective_time(observation: dict[str, Any]) -> datetime | None:
    period = observation.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return (instant(observation.get("effectiveDateTime")) or instant(observation.get("effectiveInstant"))
            or instant(start) or instant(observation.get("issued")))


def _value(holder: dict[str, Any], source: FhirSource, entry: Entry, name: str) -> Any:
    quantity = holder.get("valueQuantity")
    if isinstance(quantity, dict):
        value = quantity.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(f"{entry.label}: valueQuantity has no numeric value")
        if source.unit is None:
            return float(value)
        unit = quantity.get("code") if quantity.get("system") == UCUM else None
        unit = unit or quantity.get("unit")
        if not isinstance(unit, str) or not unit:
            raise SchemaError(f"{entry.label}: the quantity for '{name}' has no unit; the model needs {source.unit}")
        try:
            return converter(unit, source.unit)(float(value))
        except SchemaError as exc:
            raise SchemaError(f"{entry.label}: '{name}': {exc}") from None
    if isinstance(holder.get("valueCodeableConcept"), dict):
        return (source.values or {}).get(_code(holder["valueCodeableConcept"]) or "")
    if isinstance(holder.get("valueBoolean"), bool):
        return 1 if holder["valueBoolean"] else 0
    if isinstance(holder.get("valueInteger"), int):
        return holder["valueInteger"]
    raise SchemaError(f"{entry.label}: '{name}' needs a quantity, a coded value, a boolean or an integer")
