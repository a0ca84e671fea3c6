"""Tables to JSON-style records (NaN -> None, numpy scalars -> Python) for the serving codecs."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def frame_to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row with plain Python values.

    >>> frame_to_records(pd.DataFrame({"a": [1.0, None]}))
    [{'a': 1.0}, {'a': None}]
    """
    columns = list(map(str, frame.columns))
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]
