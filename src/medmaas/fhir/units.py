"""UCUM unit conversion through ucumvert's pint definitions (no hand-written factor table).

Parsing a UCUM expression costs about a millisecond, so each (from, to) pair is turned into a
linear function once and cached: a request with hundreds of observations converts in
microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from medmaas.exceptions import SchemaError


@cache
def _registry() -> Any:
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


def _unit(text: str) -> Any:
    """A pint unit for a UCUM string; annotations alone ({score}, {cells}) and "1" are
    dimensionless."""
    parsed = _registry().from_ucum(text)
    return _registry().dimensionless if isinstance(parsed, str) else parsed


@cache
def converter(source: str, target: str) -> Callable[[float], float]:
    """``f(value in source) -> value in target``; SchemaError if the units measure different
    things (mmol/L and mg/dL need a molar mass, which UCUM does not know)."""
    if source == target:
        return float
    try:
        from_unit, to_unit = _unit(source), _unit(target)
        registry = _registry()
        # Every UCUM conversion is affine (Cel -> [degF] has an offset): two points fix it.
        zero = registry.Quantity(0.0, from_unit).to(to_unit).magnitude
        scale = registry.Quantity(1.0, from_unit).to(to_unit).magnitude - zero
    except Exception as exc:  # ucumvert's parse errors and pint's DimensionalityError
        raise SchemaError(f"cannot convert {source!r} to {target!r}: {_reason(exc)}") from None
    return lambda value: float(value) * scale + zero


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "DimensionalityError":
        return "the units measure different quantities"
    return f"not a UCUM unit ({name})"
