"""Parsing delimited text (CSV, TSV, semicolon, pipe) into a frame of cleaned text columns.

The standard library's csv module does the parsing rather than pandas, because it lets every
row be checked as it is read: a ragged row is reported with its row and line number instead of
being padded with missing values (pandas' C parser silently pads short rows).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

import pandas as pd

from medmaas.data._header import clean_header, header_looks_like_data
from medmaas.data._text import clean_text_series, text_dtype
from medmaas.exceptions import DataError

#: Delimiters tried when none is given, in order of preference on a tie.
CANDIDATE_DELIMITERS = ",;\t|"
_SNIFF_CHARS = 32 * 1024
_SNIFF_LINES = 100


def sniff_delimiter(text: str) -> str:
    """Guess the delimiter of a delimited text from its first lines.

    csv.Sniffer proposes; its guess is kept only when it splits the sample into a consistent
    number of fields (it is easily fooled by delimiters inside quoted text). Otherwise the
    candidate that splits the header into the most fields consistently wins; a file with a
    single column falls back to a comma.

    >>> sniff_delimiter("a;b;c\\n1;2,5;3\\n")
    ';'
    >>> sniff_delimiter("a|b\\n1|2\\n")
    '|'
    """
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        # A sample cut mid-line (or mid-quote) would make its last row look ragged.
        sample = sample[: sample.rindex("\n") + 1]
    lines = [line for line in sample.splitlines() if line.strip()][:_SNIFF_LINES]
    if not lines:
        return ","
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), delimiters=CANDIDATE_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    scores = {d: _consistency(lines, d) for d in CANDIDATE_DELIMITERS}
    if sniffed in scores and scores[sniffed][0] >= 0.9 and scores[sniffed][1] > 1:
        return sniffed
    best = max(
        (d for d in CANDIDATE_DELIMITERS if scores[d][1] > 1),
        key=lambda d: scores[d],
        default=",",
    )
    return best


def _consistency(lines: list[str], delimiter: str) -> tuple[float, int]:
    """(share of lines with the header's field count, header field count)."""
    counts = [len(row) for row in csv.reader(lines, delimiter=delimiter, skipinitialspace=True)]
    width = counts[0]
    return sum(1 for c in counts if c == width) / len(counts), width


def read_delimited(
    text: str,
    label: str,
    *,
    delimiter: str | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Parse delimited text with a header row (or explicit ``names``) into cleaned text columns.

    >>> read_delimited("age; sex\\n 7.2 ;F\\nNA;M\\n", "t.csv").to_dict("list")
    {'age': ['7.2', nan], 'sex': ['F', 'M']}
    """
    if not text.strip():
        raise DataError(f"'{label}' is empty")
    if delimiter is None:
        delimiter = sniff_delimiter(text)
    elif len(delimiter) != 1:
        raise DataError(f"the delimiter must be one character; got {delimiter!r}")
    # Data rows count from 1 below the header, as a user counts them; without a header row the
    # first line is already data row 1.
    numbered_rows = _rows(text, delimiter, label, first_row=1 if names is not None else 0)

    if names is not None:
        header = clean_header(names, label)
        width = raw_width = len(header)
    else:
        try:
            _, _, raw_header = next(numbered_rows)
        except StopIteration:
            raise DataError(f"'{label}' is empty") from None
        # A trailing delimiter on every line ("a,b,c,") gives a last column with no name; it is
        # dropped when it holds no data, so such exports still read.
        width = len(raw_header)
        while width > 1 and not raw_header[width - 1].strip():
            width -= 1
        header = clean_header(raw_header[:width], label)
        if header_looks_like_data(header):
            shown = ", ".join(header[:6]) + (", ..." if len(header) > 6 else "")
            raise DataError(
                f"'{label}' has no header row: its first row ({shown}) looks like data; "
                "add a first row that names the columns"
            )
        raw_width = len(raw_header)

    rows: list[list[str]] = []
    for row_number, line_number, fields in numbered_rows:
        if len(fields) == width:  # the common case, kept cheap for large uploads
            rows.append(fields)
            continue
        n_fields = len(fields)
        while len(fields) > width and not fields[-1].strip():
            fields.pop()
        if len(fields) != width:
            if names is None and width < len(fields) <= raw_width:
                raise DataError(
                    f"'{label}': column {len(fields)} has no name but row {row_number} "
                    f"has a value there (line {line_number})"
                )
            raise DataError(
                f"row {row_number} has {n_fields} fields; the header has {width} "
                f"(line {line_number} of '{label}')"
            )
        rows.append(fields)
    if not rows:
        raise DataError(f"'{label}' has a header row but no data rows")
    columns = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            name: clean_text_series(pd.Series(values, dtype=text_dtype()))
            for name, values in zip(header, columns, strict=True)
        }
    )


def _rows(
    text: str, delimiter: str, label: str, *, first_row: int
) -> Iterator[tuple[int, int, list[str]]]:
    """Yield (row number, first line number, fields) for each non-blank row."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    row_number = first_row
    last_line = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(
                f"'{label}' is not a readable CSV near line {reader.line_num}: {exc}"
            ) from None
        first_line = last_line + 1
        last_line = reader.line_num
        # Blank lines (or lines of spaces) carry no row, as in pandas' skip_blank_lines.
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        yield row_number, first_line, fields
        row_number += 1
