"""Parse and write DICOM bytes with pydicom, turning its silences and exceptions into clear errors.

pydicom is lenient on purpose: a file cut in half parses "fine" with a short Pixel Data value,
and its warnings quote element values, which may be patient data. This module notices the first
(a reader that remembers when the data ran out mid-read) and hides the second (a per-thread
switch on pydicom's log records, and its warnings silenced while we parse).
"""

from __future__ import annotations

import io
import logging
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from medmaas._optional import optional_import
from medmaas.exceptions import InvalidInputError, MedmaasError
from medmaas.kinds.image.io.sniff import describe, looks_like_raw_dicom

if TYPE_CHECKING:
    from pydicom import Dataset

PIXEL_DATA_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # Pixel, Float Pixel, Double Float Pixel

# pydicom logs from these; the pixel modules use their own child loggers, and a filter on a
# parent logger does not see records made on a child.
_PYDICOM_LOGGERS = (
    "pydicom",
    "pydicom.pixels.decoders.base",
    "pydicom.pixels.encoders.base",
    "pydicom.pixels.utils",
)
_QUIET = threading.local()


class _DropWhileQuiet(logging.Filter):
    """Drop pydicom records made by a thread that is inside ``quiet()``: they may quote values."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_QUIET, "depth", 0)


_FILTER = _DropWhileQuiet()
for _name in _PYDICOM_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


@contextmanager
def quiet() -> Iterator[None]:
    """Keep pydicom's warnings and log records, which can quote patient data, out of the logs.

    The log switch is per thread, so other requests keep their pydicom logging. The warnings
    part uses ``warnings.catch_warnings``, which is process-wide: at worst a warning raised by
    another thread at the same moment is dropped too.
    """
    _QUIET.depth = getattr(_QUIET, "depth", 0) + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        _QUIET.depth -= 1


class _TrackingReader(io.BytesIO):
    """A BytesIO that remembers a read the end of the data cut short.

    pydicom stops quietly at the end of the data, even in the middle of an element. A clean end
    is a read that returns nothing at an element boundary; a partial read (some bytes, fewer
    than asked) is a truncated file unless pydicom seeks back into the data afterwards, as it
    does when it scans ahead in chunks for a delimiter.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._size = len(data)
        self.ran_out = False

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        if size is not None and 0 < len(chunk) < size:
            self.ran_out = True
        return chunk

    def seek(self, pos: int, whence: int = 0, /) -> int:
        where = super().seek(pos, whence)
        if where < self._size:  # back into the data: the short read was a look-ahead
            self.ran_out = False
        return where


def parse_dicom(data: bytes, name: str) -> Dataset:
    """Parse DICOM ``data`` (pixels included, not decoded) or raise InvalidInputError.

    Files without the 128-byte preamble and 'DICM' are read with ``force=True`` only when
    they start like a data set, and believed only when group 0008 or 0028 elements appear.
    """
    pydicom = optional_import("pydicom", "imaging")
    if not data:
        raise InvalidInputError(f"{name}: empty file (0 bytes); expected a DICOM file")
    has_marker = len(data) >= 132 and data[128:132] == b"DICM"
    if not has_marker and not looks_like_raw_dicom(data):
        raise InvalidInputError(
            f"{name}: not a DICOM file: no 'DICM' marker at byte 128 and no DICOM data set "
            f"at the start; got {describe(data)}"
        )
    reader = _TrackingReader(data)
    truncated: InvalidInputError | None = None
    last = None  # the last element converted, to say where a broken one sits
    try:
        with quiet():
            ds = pydicom.dcmread(reader, force=not has_marker)
            tags = list(ds.keys())
            if reader.ran_out:  # read now: the raw Pixel Data element still knows its length
                truncated = _truncated(ds, name, len(data))
            # Raw elements are converted lazily; converting every one here, nested ones too,
            # makes an unknown VR or a broken value fail now, inside the wrapper, rather than
            # deep inside de-identification or a decoder.
            for elem in ds.iterall():
                last = elem.tag
    except MedmaasError:
        raise
    except Exception as exc:  # pydicom raises a dozen types on malformed input
        if reader.ran_out:
            raise InvalidInputError(
                f"{name}: truncated DICOM: the file ends inside a data element "
                f"after {len(data)} bytes"
            ) from None
        after = f" after element {last}" if last is not None else ""
        raise InvalidInputError(
            f"{name}: malformed DICOM: pydicom could not parse it{after} ({type(exc).__name__})"
        ) from None
    if not has_marker and not any((int(t) >> 16) in (0x0008, 0x0028) for t in tags):
        raise InvalidInputError(
            f"{name}: not a DICOM file: no 'DICM' marker at byte 128, and read without it the "
            "data holds no group 0008 or 0028 elements"
        )
    if truncated is not None:
        raise truncated
    ensure_transfer_syntax(ds)
    syntax = ds.file_meta.TransferSyntaxUID
    if not isinstance(syntax, str):  # a UID is a str; a value with a backslash is a list
        raise InvalidInputError(
            f"{name}: malformed DICOM: the file meta's Transfer Syntax UID holds "
            f"{len(syntax)} values; it must be one UID"
        )
    return ds


def _truncated(ds: Dataset, name: str, size: int) -> InvalidInputError:
    """The most specific truncation message: declared vs present pixel bytes when we can."""
    if 0x7FE00010 in ds:
        raw = ds.get_item(0x7FE00010)
        declared = getattr(raw, "length", None)
        held = len(raw.value or b"") if raw is not None else 0
        if declared is not None and declared != 0xFFFFFFFF and held < declared:
            return InvalidInputError(
                f"{name}: truncated DICOM: pixel data declares {declared} bytes, file holds {held}"
            )
    return InvalidInputError(
        f"{name}: truncated DICOM: the file ends inside a data element after {size} bytes"
    )


def ensure_transfer_syntax(ds: Dataset) -> None:
    """Give a preamble-less data set the file meta a decoder and a writer need.

    Such files carry no Transfer Syntax UID; the encoding pydicom detected while parsing
    (implicit or explicit VR, byte order) says which one it is.
    """
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if meta.get("TransferSyntaxUID"):  # present and not empty
        return
    implicit, little = ds.original_encoding
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def write_dicom(ds: Dataset, name: str = "dataset") -> bytes:
    """Write ``ds`` as a DICOM file (zeroed preamble, 'DICM', file meta) and return the bytes.

    The preamble is zeroed because it is free space that some writers fill (TIFF hybrids),
    and nothing a de-identified file carries may go unchecked.
    """
    pydicom = optional_import("pydicom", "imaging")
    ensure_transfer_syntax(ds)
    meta: Any = ds.file_meta
    if "SOPClassUID" in ds:
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
    if "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.preamble = b"\x00" * 128
    buf = io.BytesIO()
    try:
        with quiet():
            pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    except (ValueError, TypeError, AttributeError, KeyError, struct.error, OverflowError) as exc:
        raise InvalidInputError(
            f"{name}: cannot write the DICOM data set back ({type(exc).__name__}: "
            "an element does not fit its value representation)"
        ) from None
    return buf.getvalue()
