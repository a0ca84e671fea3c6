"""Reading Weka ARFF files, the format many UCI and scikit-survival medical tables come in.

The parser is deliberately forgiving about the quirks real ARFF files have — stray tabs and
spaces around values ("\\tno"), an extra trailing comma on some rows, Windows line endings —
and strict about what would silently corrupt the table: a row with the wrong number of values,
a numeric attribute holding text, sparse or relational data it cannot represent.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import pandas as pd

from medmaas.data._header import clean_header
from medmaas.data._text import clean_cell, text_dtype
from medmaas.exceptions import DataError

_NUMERIC_TYPES = frozenset({"numeric", "real", "integer"})
# @attribute <name> <type>: the name may be quoted (and then hold spaces).
_ATTRIBUTE = re.compile(
    r"""@attribute\s+(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>\S+))\s+(?P<type>.+)$""",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ArffAttribute:
    """One declared column: its name, its kind and, for nominal ones, the allowed values."""

    name: str
    kind: str  # "numeric", "nominal", "string" or "date"
    values: tuple[str, ...] = ()


def read_arff(text: str, *, name: str = "table.arff") -> pd.DataFrame:
    """Parse ARFF text into a frame of cleaned text columns, one per declared attribute.

    Values stay text, as from a CSV, so that one type inference (``build_tabular_dataset``)
    applies to every source; numeric attributes are checked to hold numbers.

    >>> text = "@relation r\\n@attribute age numeric\\n@attribute htn {yes,no}\\n@data\\n48,\\tyes,\\n?,no\\n"
    >>> read_arff(text).to_dict("list")
    {'age': ['48', nan], 'htn': ['yes', 'no']}
    """
    lines = text.splitlines()
    attributes, data_start = _parse_header(lines, name)
    width = len(attributes)
    columns: list[list[object]] = [[] for _ in attributes]
    row_number = 0
    for line_number in range(data_start + 1, len(lines) + 1):
        line = lines[line_number - 1].strip()
        if not line or line.startswith("%"):
            continue
        if line.startswith("{"):
            raise DataError(f"'{name}' uses sparse ARFF rows (line {line_number}); not supported")
        row_number += 1
        fields = _split_row(line)
        n_fields = len(fields)
        # The known quirk: some rows end with an extra comma (or a comma and a tab).
        while len(fields) > width and not fields[-1].strip():
            fields.pop()
        if len(fields) != width:
            raise DataError(
                f"row {row_number} has {n_fields} values; the header declares {width} attributes "
                f"(line {line_number} of '{name}')"
            )
        for attribute, column, raw in zip(attributes, columns, fields, strict=True):
            value = clean_cell(raw)
            if attribute.kind == "numeric" and isinstance(value, str):
                _check_number(value, attribute.name, row_number, line_number, name)
            column.append(value)
    if row_number == 0:
        raise DataError(f"'{name}' declares its attributes but has no data rows")
    return pd.DataFrame(
        {
            attribute.name: pd.Series(column, dtype=text_dtype())
            for attribute, column in zip(attributes, columns, strict=True)
        }
    )


def read_arff_attributes(text: str, *, name: str = "table.arff") -> list[ArffAttribute]:
    """The declared attributes of an ARFF file (names, kinds, nominal values).

    >>> read_arff_attributes("@attribute 'sg' {1.005,1.010}\\n@data\\n")
    [ArffAttribute(name='sg', kind='nominal', values=('1.005', '1.010'))]
    """
    return _parse_header(text.splitlines(), name)[0]


def _parse_header(lines: list[str], name: str) -> tuple[list[ArffAttribute], int]:
    attributes: list[ArffAttribute] = []
    for index, raw_line in enumerate(lines):
        line = raw_line.strip()
        if not line or line.startswith("%"):
            continue
        keyword = line.split(None, 1)[0].lower()
        if keyword == "@data":
            if not attributes:
                raise DataError(f"'{name}' has an @data section but declares no @attribute")
            clean_header([a.name for a in attributes], name)
            return attributes, index + 1
        if keyword == "@attribute":
            attributes.append(_parse_attribute(line, index + 1, name))
        elif keyword not in ("@relation", "@end"):
            raise DataError(f"'{name}' line {index + 1} is not an ARFF header line: {line[:60]!r}")
    raise DataError(f"'{name}' is not an ARFF file: it has no @data section")


def _parse_attribute(line: str, line_number: int, name: str) -> ArffAttribute:
    match = _ATTRIBUTE.match(line)
    if match is None:
        raise DataError(f"'{name}' line {line_number}: cannot read attribute {line[:60]!r}")
    column = next(g for g in (match["sq"], match["dq"], match["bare"]) if g is not None)
    declared = match["type"].strip()
    if declared.startswith("{"):
        inner = declared.strip("{} \t")
        values = tuple(v.strip().strip("'\"").strip() for v in inner.split(",") if v.strip())
        return ArffAttribute(column, "nominal", values)
    kind = declared.split(None, 1)[0].lower()
    if kind in _NUMERIC_TYPES:
        return ArffAttribute(column, "numeric")
    if kind in ("string", "date"):
        return ArffAttribute(column, kind)
    raise DataError(
        f"'{name}' line {line_number}: attribute '{column}' has type '{kind}', which is not "
        "supported (numeric, nominal, string and date are)"
    )


def _split_row(line: str) -> list[str]:
    # ARFF quotes with either quote character; the csv module handles one at a time, and a row
    # mixing both is vanishingly rare.
    quote = '"' if '"' in line and "'" not in line else "'"
    return next(csv.reader([line], quotechar=quote, skipinitialspace=True))


def _check_number(value: str, column: str, row: int, line: int, name: str) -> None:
    try:
        float(value)
    except ValueError:
        raise DataError(
            f"attribute '{column}' is numeric but row {row} has {value!r} (line {line} of '{name}')"
        ) from None
