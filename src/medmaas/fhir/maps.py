"""FHIR maps: which feature is read from which resource, as a JSON file a user can edit.

``{"outcome": {system, code, display}, "features": {name: FhirSource}}``. Training from FHIR
Bundles builds its table through a map, and the map is written into the model's spec.json, so
serving reads each request the same way.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from medmaas.bundle.spec import FeatureSpec, FhirCode, FhirSource, ModelSpec
from medmaas.exceptions import DataError


class FhirMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: FhirCode | None = None
    features: dict[str, FhirSource]

    def specs(self) -> list[FeatureSpec]:
        """The map's features as a spec's inputs would carry them (numbers, for extraction)."""
        return [FeatureSpec(name=name, type="number", unit=source.unit, fhir=source)
                for name, source in self.features.items()]


def read_map(path: Path | str) -> FhirMap:
    try:
        return FhirMap.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise DataError(f"cannot read the FHIR map {path}: {exc.strerror}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise DataError(f"{path}: {where}: {first['msg']}") from None


def default_map() -> FhirMap:
    """Age, sex, vital signs and common laboratory values (LOINC), for ``train --fhir``
    without a map of one's own."""
    return read_map(Path(str(resources.files("medmaas.fhir") / "default_map.json")))


def attach(spec: ModelSpec, fhir_map: FhirMap) -> ModelSpec:
    """``spec`` with each mapped feature's source and the outcome's code."""
    inputs = [f.model_copy(update={"fhir": fhir_map.features[f.name]}) if f.name in fhir_map.features else f
              for f in spec.inputs]
    output = spec.output.model_copy(update={"fhir": fhir_map.outcome}) if fhir_map.outcome else spec.output
    return spec.model_copy(update={"inputs": inputs, "output": output})
