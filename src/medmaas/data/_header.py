"""Checks on column names shared by every reader: stripped, non-blank, unique, not data."""

from __future__ import annotations

from collections.abc import Sequence

from medmaas.exceptions import DataError


def clean_header(names: Sequence[object], label: str) -> list[str]:
    """Strip column names and check that each is present and unique.

    Positions in messages are 1-based, as a spreadsheet user counts columns.

    >>> clean_header([" age ", "sex"], "t.csv")
    ['age', 'sex']
    >>> clean_header(["age", "age"], "t.csv")
    Traceback (most recent call last):
    ...
    medmaas.exceptions.DataError: 't.csv': column name 'age' appears more than once (columns 1 and 2); names must be unique
    """
    cleaned = [("" if n is None else str(n)).strip() for n in names]
    for position, column in enumerate(cleaned, start=1):
        if not column:
            hint = (
                " (if it is a saved row index, write the file without it, e.g. "
                "pandas' to_csv(index=False), or give the column a name)"
                if position == 1
                else ""
            )
            raise DataError(f"'{label}': column {position} has no name{hint}")
    first_seen: dict[str, int] = {}
    for position, column in enumerate(cleaned, start=1):
        if column in first_seen:
            raise DataError(
                f"'{label}': column name '{column}' appears more than once "
                f"(columns {first_seen[column]} and {position}); names must be unique"
            )
        first_seen[column] = position
    return cleaned


def header_looks_like_data(names: Sequence[str]) -> bool:
    """True when every name is a number: the file most likely has no header row.

    >>> header_looks_like_data(["6", "148", "72.5"])
    True
    >>> header_looks_like_data(["age", "2019"])
    False
    """
    if not names:
        return False
    for column in names:
        try:
            float(column)
        except ValueError:
            return False
    return True
