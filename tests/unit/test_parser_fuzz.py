"""Readers under generated input: whatever bytes or JSON arrive, a reader answers with the
project's own input error (a 4xx with a message) or a result, never another exception. A
bounded number of examples per reader by default; ``MEDMAAS_FUZZ_EXAMPLES=100000 pytest
tests/unit/test_parser_fuzz.py`` for a long run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests import fhir_builders as fb

from medmaas.exceptions import MedmaasError

#: MEDMAAS_FUZZ_EXAMPLES=100000 for a long run
FUZZ = settings(max_examples=int(os.environ.get("MEDMAAS_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def _heart_failure_features() -> list[Any]:
    from medmaas.builtin.catalog import builtin
    from medmaas.fhir.maps import read_map

    model = builtin("heart-failure-mortality")
    return read_map(model.path.parent / model.fhir_map).specs()


FEATURES = _heart_failure_features()


def _outcome(call: Callable[[], Any]) -> Any:
    """What a reader gives: its result, or the project's input error, which must say what is
    wrong. Any other exception fails the test."""
    try:
        return call()
    except MedmaasError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return exc


def _read_and_map(body: bytes) -> None:
    from datetime import UTC, datetime

    from medmaas.fhir.bundle import read_bundle
    from medmaas.fhir.mapping import Extraction, extract, wanted_codes

    result = _outcome(lambda: extract(read_bundle(body, wanted_codes(FEATURES)), FEATURES,
                                      datetime(2021, 1, 1, tzinfo=UTC)))
    if not isinstance(result, MedmaasError):
        assert isinstance(result, Extraction)
        assert set(result.row) == {f.name for f in FEATURES}  # every feature has a value or None


@FUZZ
@given(st.binary(max_size=400))
def test_fhir_reader_on_arbitrary_bytes(body: bytes) -> None:
    _read_and_map(body)


@FUZZ
@given(json_values)
def test_fhir_reader_on_arbitrary_json(value: Any) -> None:
    _read_and_map(json.dumps(value).encode())


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document where a value could be replaced."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*prefix, i))
    return found


BUNDLE = fb.patient_bundle(
    fb.observation("2951-2", 140, "mmol/L", "2020-06-01", index=1),
    fb.observation("777-3", 250, "10*3/uL", "2020-06-01", index=2),
    fb.condition("44054006", "2015-01-01", index=3))
PLACES = _paths(BUNDLE)[1:]


@FUZZ
@given(st.sampled_from(PLACES), json_values)
def test_fhir_reader_on_a_valid_bundle_with_one_value_replaced(place: tuple[Any, ...], value: Any) -> None:
    import copy

    bundle = copy.deepcopy(BUNDLE)
    holder = bundle
    for step in place[:-1]:
        holder = holder[step]
    holder[place[-1]] = value
    _read_and_map(json.dumps(bundle).encode())


@FUZZ
@given(st.binary(max_size=300), st.one_of(st.none(), st.integers(min_value=-5, max_value=400)))
def test_v2_request_parser_on_arbitrary_bytes(body: bytes, length: int | None) -> None:
    from medmaas.api.v2.tensors import InferRequest, parse_request

    assert isinstance(_outcome(lambda: parse_request(body, length)), InferRequest | MedmaasError)


@FUZZ
@given(json_values, st.binary(max_size=64))
def test_v2_request_parser_on_json_headers_with_binary_tails(header: Any, tail: bytes) -> None:
    from medmaas.api.v2.tensors import InferRequest, parse_request

    head = json.dumps(header).encode()
    result = _outcome(lambda: parse_request(head + tail, len(head)))
    assert isinstance(result, InferRequest | MedmaasError)
    if isinstance(result, InferRequest):  # every tensor holds as many elements as its shape says
        assert all(t.array.size == int(np.prod(t.shape)) for t in result.inputs.values())


@FUZZ
@given(st.text(max_size=300))
def test_csv_reader_on_arbitrary_text(text: str) -> None:
    import pandas as pd

    from medmaas.data.readers import read_table

    assert isinstance(_outcome(lambda: read_table(text.encode(), name="upload.csv")), pd.DataFrame | MedmaasError)


@pytest.mark.parametrize(("unit", "in_mg_per_dl"), [
    ("mg/dL", 1.0), ("g/L", 100.0), ("10*3/uL", None), ("{score}", None), ("]", None), ("mmol/L/", None),
    ("kg.m-2", None), ("%", None),
])
def test_unit_conversion_errors_are_input_errors(unit: str, in_mg_per_dl: float | None) -> None:
    from medmaas.fhir.units import converter

    result = _outcome(lambda: converter(unit, "mg/dL")(1.0))
    if in_mg_per_dl is None:
        assert isinstance(result, MedmaasError)
    else:
        assert result == pytest.approx(in_mg_per_dl)
