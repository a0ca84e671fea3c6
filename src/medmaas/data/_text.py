"""Cell-level text rules shared by the readers and the dataset builder.

One place decides what counts as a missing value, how whitespace is treated and which words
mean true/false, so a table read from CSV, Parquet, ARFF or built in memory is cleaned the same
way before its types are inferred.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Whole-cell tokens (after stripping whitespace) that mean "no value". "-" is included because
#: lab exports use it for "not measured"; it is only missing as a whole cell, never "-5".
MISSING_TOKENS: frozenset[str] = frozenset(
    {"", "NA", "N/A", "NaN", "nan", "null", "NULL", "?", "-"}
)

#: Words read as booleans in feature columns (compared case-insensitively).
TRUE_WORDS: frozenset[str] = frozenset({"yes", "true", "y"})
FALSE_WORDS: frozenset[str] = frozenset({"no", "false", "n"})

_LEADING_ZERO_DIGITS = re.compile(r"0\d+")
_PANDAS_MAJOR = int(pd.__version__.split(".", 1)[0])


def is_text_dtype(series: pd.Series) -> bool:
    """True for columns that hold text (pandas' ``str`` dtype, ``object`` or ``category``).

    >>> is_text_dtype(pd.Series(["a", "b"]))
    True
    >>> is_text_dtype(pd.Series([1.0, 2.0]))
    False
    """
    dtype = series.dtype
    return bool(
        pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def clean_cell(value: object) -> object:
    """Strip a text cell and turn missing-value tokens into NaN; other values pass through.

    >>> clean_cell("  7.2 ")
    '7.2'
    >>> clean_cell(" N/A ")
    nan
    >>> clean_cell("-5")
    '-5'
    """
    if isinstance(value, str):
        stripped = value.strip()
        return np.nan if stripped in MISSING_TOKENS else stripped
    if value is None or value is pd.NA or value is pd.NaT:
        return np.nan
    return value


def clean_text_series(series: pd.Series) -> pd.Series:
    """Apply :func:`clean_cell` to a text column; non-text columns are returned unchanged.

    Category dtypes are flattened to their values first, because their categories may carry
    the very tokens ("NA", " yes") that must be cleaned.

    >>> clean_text_series(pd.Series([" a", "NA", "-", "b "])).tolist()
    ['a', nan, nan, 'b']
    """
    if not is_text_dtype(series):
        return series
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        # All text: vectorised, which matters for uploads of a few hundred thousand rows.
        text = series.astype(text_dtype()).str.strip()
        return text.where(~text.isin(MISSING_TOKENS))
    cleaned = [clean_cell(v) for v in series.tolist()]
    # Non-string objects (numbers inside an object column) become strings so that the column is
    # uniformly text; numeric inference later decides whether it is really numeric.
    cleaned = [v if isinstance(v, str) or _is_nan(v) else str(v) for v in cleaned]
    return pd.Series(cleaned, index=series.index, name=series.name, dtype=text_dtype())


def parse_numbers(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a cleaned text column as floats.

    Returns ``(numbers, bad)``: the parsed values (NaN where missing or unparseable) and a mask
    of cells that hold text but are not numbers.

    >>> numbers, bad = parse_numbers(pd.Series(["7.2", None, "abc"]))
    >>> numbers.tolist(), bad.tolist()
    ([7.2, nan, nan], [False, False, True])
    """
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    bad = series.notna() & numbers.isna()
    return numbers, bad


def parse_booleans(series: pd.Series) -> pd.Series | None:
    """Read a cleaned text column of yes/no/true/false words as 1.0/0.0, or None if it is not one.

    >>> parse_booleans(pd.Series(["Yes", "no", None])).tolist()
    [1.0, 0.0, nan]
    >>> parse_booleans(pd.Series(["yes", "maybe"])) is None
    True
    """
    present = series.dropna()
    if present.empty:
        return None
    if not present.str.lower().isin(TRUE_WORDS | FALSE_WORDS).all():
        return None
    mapped = series.str.lower().map(lambda w: 1.0 if w in TRUE_WORDS else 0.0)
    return mapped.where(series.notna(), np.nan).astype("float64")


def looks_like_code_with_leading_zero(series: pd.Series) -> bool:
    """True when every present value is a digit string with a leading zero ("00123").

    Such values parse as numbers but are identifiers or codes (MRNs, ZIP codes): "00123" and
    "123" are different patients.

    >>> looks_like_code_with_leading_zero(pd.Series(["0012", "0345"]))
    True
    >>> looks_like_code_with_leading_zero(pd.Series(["0.5", "12"]))
    False
    """
    present = series.dropna()
    return bool(len(present)) and all(_LEADING_ZERO_DIGITS.fullmatch(v) for v in present)


def format_number(value: float) -> str:
    """Render a number as a label: integers without ".0", others in shortest round-trip form.

    >>> format_number(1.0), format_number(2.5), format_number(-0.0)
    ('1', '2.5', '0')
    """
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and value != value


def text_dtype() -> str:
    # pandas >= 3 has a "str" dtype that keeps NaN as missing; in pandas 2 "str" would turn NaN
    # into the text "nan", so there the column stays object. Both are what scikit-learn expects.
    return "str" if _PANDAS_MAJOR >= 3 else "object"
