"""Feature columns: inferring numeric vs categorical, and dropping columns that cannot help.

Each column is decided on its own, from its values, so that the same rules hold for a CSV
(everything text), a Parquet file (typed) and a frame built in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medmaas.data._text import (
    clean_text_series,
    format_number,
    is_text_dtype,
    looks_like_code_with_leading_zero,
    parse_booleans,
    parse_numbers,
)
from medmaas.data.dataset import ColumnInfo
from medmaas.exceptions import DataError

#: Categorical columns with more distinct values than this get a warning (one-hot blow-up).
MANY_CATEGORIES = 50
#: A text column that is numeric except for at most this share of its values gets a warning
#: naming the odd values: most likely typos in a numeric column.
ODD_VALUES_SHARE = 0.05
_SHOWN = 3

# Words in a column name that mark an identifier: "id", "patient_id", "PatientID", "MRN".
_ID_WORDS = frozenset({"id", "ids", "mrn", "uuid", "guid", "identifier", "ssn", "nhs"})
_ID_JOINED = re.compile(
    r"(patient|subject|record|study|case|encounter|visit|sample|person|hadm|stay|"
    r"admission|icustay|row)_?id",
    re.IGNORECASE,
)
_WORD_BOUNDARY = re.compile(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[A-Z])")


@dataclass
class Feature:
    """A feature column as it will be trained on, or the reason it was dropped."""

    name: str
    values: pd.Series | None
    info: ColumnInfo | None
    notes: list[str]


def prepare_feature(name: str, series: pd.Series, row_of: pd.Index) -> Feature:
    """Infer one feature's type, convert it, and decide whether to keep it.

    ``row_of`` maps positions to the 1-based row numbers of the table as given.

    >>> f = prepare_feature("bp", pd.Series([" 7.2", "NA", "8"]), pd.Index([1, 2, 3]))
    >>> f.info.type, f.values.tolist()
    ('numeric', [7.2, nan, 8.0])
    """
    notes: list[str] = []
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return _dropped(
            name,
            f"dropped column '{name}': it holds dates or times, which are not used as features "
            "as they are; derive numbers from them first (an age, days since an event)",
        )
    if pd.api.types.is_bool_dtype(dtype):
        values: pd.Series = series.astype("float64")
        kind = "numeric"
    elif pd.api.types.is_numeric_dtype(dtype) and not is_text_dtype(series):
        values = pd.to_numeric(series).astype("float64")
        kind = "numeric"
    else:
        values, kind, notes = _from_text(name, series, row_of)

    if kind == "numeric":
        _reject_infinite(name, values, row_of)

    present = values.dropna()
    if present.empty:
        return _dropped(name, f"dropped column '{name}': every value is missing")
    distinct = present.unique()
    if len(distinct) == 1:
        shown = format_number(distinct[0]) if kind == "numeric" else str(distinct[0])
        where = "every row" if len(present) == len(values) else "every row that has a value"
        return _dropped(name, f"dropped column '{name}': it is '{shown}' in {where} (constant)")
    reason = _identifier_reason(name, values, kind)
    if reason:
        return _dropped(name, f"dropped column '{name}': {reason} (an identifier?)")

    n_missing = int(values.isna().sum())
    if kind == "numeric":
        info = ColumnInfo(
            name, "numeric", n_missing, minimum=float(present.min()), maximum=float(present.max())
        )
    else:
        categories = tuple(sorted(map(str, distinct), key=lambda c: (c.casefold(), c)))
        info = ColumnInfo(name, "categorical", n_missing, categories=categories)
        if len(categories) > MANY_CATEGORIES:
            notes.append(
                f"column '{name}' is categorical with {len(categories)} distinct values; "
                "one-hot encoding it makes many sparse features"
            )
    return Feature(name, values, info, notes)


def _from_text(name: str, series: pd.Series, row_of: pd.Index) -> tuple[pd.Series, str, list[str]]:
    text = clean_text_series(series) if is_text_dtype(series) else series.astype(str)
    booleans = parse_booleans(text)
    if booleans is not None:
        return booleans, "numeric", []
    if looks_like_code_with_leading_zero(text):
        return text, "categorical", []
    numbers, bad = parse_numbers(text)
    if not bad.any():
        return numbers, "numeric", []
    notes = []
    n_bad, n_present = int(bad.sum()), int(text.notna().sum())
    if n_present - n_bad >= 10 and n_bad <= ODD_VALUES_SHARE * n_present:
        positions = np.flatnonzero(bad.to_numpy())[:_SHOWN]
        shown = ", ".join(f"{text.iloc[p]!r} in row {row_of[p]}" for p in positions)
        more = f" and {n_bad - _SHOWN} more" if n_bad > _SHOWN else ""
        notes.append(
            f"column '{name}' was read as categorical because {n_bad} of its {n_present} values "
            f"are not numbers ({shown}{more}); if it is numeric, fix or blank those values"
        )
    return text, "categorical", notes


def _reject_infinite(name: str, values: pd.Series, row_of: pd.Index) -> None:
    infinite = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
    if infinite.any():
        position = int(np.argmax(infinite))
        raise DataError(
            f"column '{name}' has an infinite value ({values.iloc[position]}) in row "
            f"{row_of[position]}; features must be finite numbers or missing"
        )


def _identifier_reason(name: str, values: pd.Series, kind: str) -> str | None:
    present = values.dropna()
    if len(present) < 2 or present.nunique() != len(present):
        return None
    if kind == "categorical":
        return "every value is different"
    integer = bool((present % 1 == 0).all())
    if integer and len(present) == len(values) and _named_like_identifier(name):
        return "a different whole number in every row, and named like an identifier"
    return None


def _named_like_identifier(name: str) -> bool:
    """True for "id", "patient_id", "PatientID", "Subject ID", "mrn"; false for "lipid".

    >>> [_named_like_identifier(n) for n in ("PatientID", "subject id", "patientid", "lipid")]
    [True, True, True, False]
    """
    words = [w.lower() for w in _WORD_BOUNDARY.split(name) if w]
    return any(w in _ID_WORDS for w in words) or any(_ID_JOINED.fullmatch(w) for w in words)


def _dropped(name: str, note: str) -> Feature:
    return Feature(name, None, None, [note])
