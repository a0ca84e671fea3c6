"""Turning uploaded bytes into text, or saying clearly that they are not a text table."""

from __future__ import annotations

import codecs

from medmaas.exceptions import DataError

#: Signatures of files people upload by mistake instead of a CSV, with what to do instead.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook or zip archive; export the sheet as CSV"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document, not a table"),
    (b"\x89PNG", "a PNG image, not a table"),
    (b"\xff\xd8\xff", "a JPEG image, not a table"),
    (b"\xd0\xcf\x11\xe0", "a legacy Excel/Office file; export the sheet as CSV"),
    (b"SQLite format 3\x00", "an SQLite database, not a table file"),
)

_SAMPLE_BYTES = 64 * 1024
# A real text table has essentially no control characters besides tab and newlines; random or
# binary bytes decoded as Windows-1252/Latin-1 have a few percent of them.
_MAX_CONTROL_FRACTION = 0.01


def decode_text(raw: bytes, label: str) -> str:
    """Decode a text table: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252/Latin-1.

    Raises DataError for binary content (NUL bytes, known binary signatures, control characters).

    >>> decode_text(b"\\xef\\xbb\\xbfage\\n1\\n", "t.csv")
    'age\\n1\\n'
    >>> decode_text("caf\\u00e9\\n".encode("latin-1"), "t.csv")
    'café\\n'
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"'{label}' starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"(byte {exc.start})"
            ) from None
    _reject_binary_signature(raw, label)
    if b"\x00" in raw[:_SAMPLE_BYTES]:
        raise DataError(f"'{label}' is a binary file (it contains NUL bytes), not a CSV")
    text = _decode_8bit(raw)
    _reject_non_table_text(text[:_SAMPLE_BYTES], label)
    return text


def _decode_8bit(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Windows-1252 before Latin-1: for legacy exports (Excel on Windows) it maps 0x80-0x9F to the
    # euro sign and curly quotes that Latin-1 would turn into invisible control characters. It
    # leaves five bytes undefined; Latin-1 then decodes anything.
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _reject_binary_signature(raw: bytes, label: str) -> None:
    for signature, what in _SIGNATURES:
        if raw.startswith(signature):
            raise DataError(f"'{label}' looks like {what}")


def _reject_non_table_text(sample: str, label: str) -> None:
    if not sample:
        return
    controls = sum(
        1 for ch in sample if (ord(ch) < 32 and ch not in "\t\n\r\f\v") or 0x7F <= ord(ch) < 0xA0
    )
    if controls / len(sample) > _MAX_CONTROL_FRACTION:
        raise DataError(
            f"'{label}' does not look like a text table: {controls} of its first {len(sample)} "
            "characters are control characters (a binary file?)"
        )
    head = sample.lstrip()[:64].lower()
    if head.startswith(("<!doctype", "<html", "<?xml")):
        raise DataError(f"'{label}' looks like HTML or XML, not a CSV")
    if head.startswith("{"):
        raise DataError(f"'{label}' looks like JSON, not a CSV")
