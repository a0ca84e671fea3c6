"""canonical_json has one definition (the standard library's); its orjson fast path must give
the same bytes, or stored audit chains would stop verifying."""

from __future__ import annotations

import json
import random

import pytest

from medmaas.registry.validation import canonical_json


def _reference(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def _text(rng: random.Random) -> str:
    pools = [range(0, 0x80), range(0x80, 0x800), range(0x800, 0xD800), range(0xE000, 0x10000),
             range(0x10000, 0x110000)]
    return "".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randint(0, 12)))


def _value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth < 3 and roll < 0.2:
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}
    if depth < 3 and roll < 0.35:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return rng.choice([
        _text(rng), rng.randint(-(2**63), 2**63 - 1), rng.randint(-1000, 1000), True, False,
        None, "\x00\x1f\x7f\"\\\n\t\u2028",
    ])


def test_fast_path_gives_the_reference_bytes() -> None:
    rng = random.Random(20261122)
    for _ in range(3000):
        value = {"seq": rng.randint(1, 10**9), "detail": _value(rng), "actor": _text(rng)}
        assert canonical_json(value) == _reference(value)


@pytest.mark.parametrize("value", [
    {"x": 1e-05}, {"x": 1e16}, {"x": 0.1}, {"x": 2**70}, {"x": -(2**64)}, {1: "int key"},
    {"x": [1.5, {"y": 2.0}]},
])
def test_values_outside_the_fast_path_still_match(value: object) -> None:
    assert canonical_json(value) == _reference(value)


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
