"""Training tables from FHIR: a folder of Bundles (one patient each) -> one row per patient,
read through the same map that serving uses.

The label is whether the patient has a condition (``--label-condition``). Each patient is
placed at a prediction time so that nothing known only after it leaks into the features:
patients with the condition at the moment just before its onset, the others at their latest
observation. Counting or dating features by those times is still biased (controls' records
run longer); the model card says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from medmaas.bundle.spec import FhirCode
from medmaas.exceptions import DataError, MedmaasError
from medmaas.fhir.bundle import PatientRecord, codings, pair, read_bundle
from medmaas.fhir.mapping import effective_time, extract, wanted_codes
from medmaas.fhir.maps import FhirMap
from medmaas.fhir.times import instant

SNOMED = "http://snomed.info/sct"
#: what the model card says of tables built this way
INDEX_TIME_LIMITATION = (
    "Built from FHIR Bundles: patients with the condition are described just before its onset, the others "
    "at their latest observation. Which values are present, and age, can differ between the groups for that "
    "reason alone; validate on patients scored at the time the model will be used.")
BEFORE_ONSET = timedelta(microseconds=1)


@dataclass
class FhirTable:
    frame: pd.DataFrame
    target: str
    skipped: list[str] = field(default_factory=list)


def label_code(text: str) -> FhirCode:
    """``44054006`` (SNOMED CT) or ``system|code``."""
    system, _, code = text.rpartition("|")
    if not code.strip():
        raise DataError(f"--label-condition needs a code such as 44054006 or http://snomed.info/sct|44054006; got {text!r}")
    return FhirCode(system=system or SNOMED, code=code.strip())


def read_folder(folder: Path, fhir_map: FhirMap, label: FhirCode,
                progress: Callable[[str, float], None] = lambda _m, _f: None) -> FhirTable:
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no FHIR Bundles (*.json) found; give a folder with one patient's Bundle per file")
    features = fhir_map.specs()
    wanted = wanted_codes(features) | {(label.system, label.code)}  # the label is a Condition to find
    target = f"condition_{label.code}"
    rows: list[dict[str, object]] = []
    skipped: list[str] = []
    for i, path in enumerate(files):
        progress(f"reading {path.name}", i / len(files))
        try:
            record = read_bundle(path.read_bytes(), wanted)
            at, has_label = _prediction_time(record, label)
            if at is None:
                skipped.append(f"{path.name}: no dated observation to place a prediction time")
                continue
            row = extract(record, features, at).row
        except MedmaasError as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        rows.append({**row, target: int(has_label)})
    progress("read", 1.0)
    if len(rows) < 10:
        raise DataError(f"{folder}: only {len(rows)} usable Bundles; training needs at least 10 patients"
                        + (f" ({len(skipped)} skipped, first: {skipped[0]})" if skipped else ""))
    frame = pd.DataFrame(rows, columns=[*fhir_map.features, target])
    empty = [c for c in fhir_map.features if frame[c].isna().all()]
    if empty:
        frame = frame.drop(columns=empty)
        skipped.append(f"feature(s) {', '.join(empty)} found for no patient; left out")
    return FhirTable(frame, target, skipped)


def _prediction_time(record: PatientRecord, label: FhirCode) -> tuple[datetime | None, bool]:
    onsets = [instant(c.resource.get("onsetDateTime")) or instant(c.resource.get("recordedDate"))
              for c in record.conditions
              if any(pair(k) == (label.system, label.code) for k in codings(c.resource))]
    dated = [o for o in onsets if o is not None]
    if dated:
        return min(dated) - BEFORE_ONSET, True
    times = [t for t in (effective_time(o.resource) for o in record.observations) if t is not None]
    return (max(times) if times else None), False
