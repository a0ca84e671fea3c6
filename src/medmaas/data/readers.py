"""Reading a table from a file or an uploaded payload: CSV/TSV, Parquet or ARFF.

Every reader returns the same thing — a frame whose text columns are stripped and whose
missing-value tokens are NaN — and fails with a DataError that names the file, row, line or
column at fault. Types are not guessed here: ``build_tabular_dataset`` infers them, so a table
behaves the same whichever format it arrived in.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from medmaas.data._delimited import read_delimited
from medmaas.data._encoding import decode_text
from medmaas.data._header import clean_header
from medmaas.data._text import clean_text_series
from medmaas.data.arff import read_arff
from medmaas.exceptions import DataError, PayloadTooLargeError

#: File extensions read_table understands, and the format each one means.
FORMATS: dict[str, str] = {
    ".csv": "delimited",
    ".txt": "delimited",
    ".data": "delimited",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arff": "arff",
}
_PARQUET_MAGIC = b"PAR1"
_UPLOAD_LABEL = "upload"


def read_table(
    path_or_bytes: str | os.PathLike[str] | bytes | bytearray | memoryview,
    *,
    name: str | None = None,
    delimiter: str | None = None,
    max_bytes: int | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a table from a path or an in-memory payload (an upload).

    Args:
        path_or_bytes: a file path, or the file's bytes.
        name: for bytes, the uploaded file's name: its extension picks the format and it is
            named in errors (without one, Parquet is recognised by its magic bytes and anything
            else is read as delimited text). Ignored for a path, which names itself.
        delimiter: the field separator; sniffed (comma, semicolon, tab, pipe) when None.
        max_bytes: refuse larger files with PayloadTooLargeError before reading them.
        names: column names for a delimited file that has no header row.

    Text cells are stripped; "", "NA", "N/A", "NaN", "nan", "null", "NULL", "?" and "-" as a
    whole cell are missing (NaN). Delimited and ARFF columns come back as text.

    >>> read_table(b"id;age\\n1; 7.2\\n2;NA\\n").to_dict("list")
    {'id': ['1', '2'], 'age': ['7.2', nan]}
    >>> read_table(b"6,148\\n1,85\\n", names=["pregnancies", "glucose"]).shape
    (2, 2)
    """
    raw, label = _load(path_or_bytes, name, max_bytes)
    fmt = _format_of(raw, label)
    if fmt == "parquet":
        if names is not None:
            raise DataError("names= applies to delimited text; a Parquet file names its columns")
        return _read_parquet(raw, label)
    text = decode_text(raw, label)
    if fmt == "arff":
        return read_arff(text, name=label)
    if fmt == "tsv" and delimiter is None:
        delimiter = "\t"
    return read_delimited(text, label, delimiter=delimiter, names=names)


def _load(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview,
    name: str | None,
    max_bytes: int | None,
) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        raw = bytes(source)
        label = name or _UPLOAD_LABEL
        _check_size(len(raw), max_bytes, label)
        return raw, label
    if not isinstance(source, str | os.PathLike):
        raise DataError(f"read_table needs a file path or bytes; got {type(source).__name__}")
    path = Path(source)
    # A file is named by its own path in messages and typed by its own extension; ``name`` is
    # for payloads, which have no path.
    label = path.name
    try:
        # Size first, from the file system: an oversized file is refused before it is read.
        size = path.stat().st_size
        if path.is_dir():
            raise DataError(f"'{path}' is a directory, not a table file")
        _check_size(size, max_bytes, label)
        return path.read_bytes(), label
    except FileNotFoundError:
        raise DataError(f"no such file: '{path}'") from None
    except PermissionError:
        raise DataError(f"cannot read '{path}': permission denied") from None


def _check_size(size: int, max_bytes: int | None, label: str) -> None:
    if max_bytes is not None and size > max_bytes:
        raise PayloadTooLargeError(
            f"'{label}' is {_human(size)} ({size} bytes); the limit is {_human(max_bytes)}"
        )


def _human(n_bytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.0f} {unit}" if unit == "bytes" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _format_of(raw: bytes, label: str) -> str:
    # The magic bytes win over the name: an upload called "data.csv" that is Parquet is Parquet.
    if raw.startswith(_PARQUET_MAGIC):
        return "parquet"
    suffix = Path(label).suffix.lower() if label != _UPLOAD_LABEL else ""
    if not suffix:
        return "delimited"
    try:
        fmt = FORMATS[suffix]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        hint = "; export the sheet as CSV" if suffix in (".xls", ".xlsx", ".ods") else ""
        raise DataError(
            f"unsupported file type '{suffix}' ('{label}'); supported: {known}{hint}"
        ) from None
    if fmt == "parquet":
        raise DataError(f"'{label}' is not a Parquet file (it does not start with 'PAR1')")
    return fmt


def _read_parquet(raw: bytes, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"'{label}' is not a readable Parquet file: {exc}") from None
    # A named index (e.g. patient_id) was data in the writer's frame; an unnamed one is not.
    has_named_index = any(level is not None for level in frame.index.names)
    frame = frame.reset_index(drop=not has_named_index)
    if frame.shape[1] == 0:
        raise DataError(f"'{label}' has no columns")
    if frame.shape[0] == 0:
        raise DataError(f"'{label}' has no rows")
    frame.columns = pd.Index(clean_header(list(frame.columns), label))
    return pd.DataFrame({column: clean_text_series(frame[column]) for column in frame.columns})
