"""Checks on names and JSON payloads shared by the registry, key store and audit log.

Every check raises InvalidInputError with the rule that must hold and the value that came, so
the API can return it as a 4xx unchanged.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from medmaas.exceptions import InvalidInputError

NAME_RULE = "must match ^[a-z0-9][a-z0-9._-]{0,62}$ (lowercase letters, digits, '.', '_', '-'; 1-63 characters, starting with a letter or digit)"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def check_name(value: object, what: str = "model name") -> str:
    """Return ``value`` if it is a valid model/project/alias name.

    >>> check_name("sepsis-risk")
    'sepsis-risk'
    """
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInputError(f"{what} {value!r} {NAME_RULE}")
    return value


def check_text(value: object, what: str, max_len: int = 200) -> str:
    """A non-empty single-line string, e.g. an actor or key name."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string; got {value!r}")
    if len(value) > max_len:
        raise InvalidInputError(f"{what} must be at most {max_len} characters; got {len(value)}")
    return value


def json_safe(value: Any, what: str) -> Any:
    """A deep copy of ``value`` made of plain JSON types.

    NaN and infinities become ``None`` (JSON has no spelling for them and PostgreSQL refuses
    them; a metric that is undefined, such as AUROC on one class, is stored as null). Objects
    with ``tolist()`` (numpy scalars and arrays) become lists or numbers.
    """

    def default(obj: Any) -> Any:
        if hasattr(obj, "tolist"):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} is not JSON-serializable")

    try:
        text = json.dumps(value, default=default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be JSON-serializable: {exc}") from None
    return _finite(json.loads(text))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8; the input to every hash.

    The definition is the standard library's ``json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)``. Values made only of str-keyed dicts,
    lists, strings, bools, None and 64-bit ints are written by orjson instead, which gives
    the same bytes five times faster (a test holds the two to that); floats always take the
    standard library, whose spelling of them (``1e-05``) orjson does not share.
    """
    if _orjson_safe(value, 0):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            pass  # e.g. a lone surrogate: let the standard library say what is wrong
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


_INT64 = 2**63


def _orjson_safe(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is dict:
        if depth > 8 or not all(type(k) is str for k in value):
            return False
        items: Any = value.values()
    elif kind is list:
        if depth > 8:
            return False
        items = value
    else:
        items = (value,)
    for item in items:
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -_INT64 <= item < _INT64:
                return False
        elif kind is dict or kind is list:
            if not _orjson_safe(item, depth + 1):
                return False
        else:
            return False
    return True
