"""Tell image formats apart by their bytes, never by the file name.

An upload called ``scan.dcm`` may be a PNG, a text file or a zip bomb; each check here looks
only at a few leading bytes, so sniffing costs nothing whatever the file holds.
"""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
GZIP_SIGNATURE = b"\x1f\x8b"
_NIFTI2_MAGICS = (b"n+2\x00\r\n\x1a\n", b"ni2\x00\r\n\x1a\n")


def sniff_format(data: bytes) -> str | None:
    """Return "dicom", "png", "jpeg", "nifti", "gzip" or None for ``data``.

    "gzip" means compressed bytes whose content still has to be looked at (a .nii.gz).

    >>> sniff_format(PNG_SIGNATURE + bytes(30))
    'png'
    >>> sniff_format(b"hello") is None
    True
    """
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(JPEG_SIGNATURE):
        return "jpeg"
    if data.startswith(GZIP_SIGNATURE):
        return "gzip"
    if nifti_header_kind(data) is not None:
        return "nifti"
    if looks_like_raw_dicom(data):
        return "dicom"
    return None


def nifti_header_kind(head: bytes) -> str | None:
    """Return "nifti1", "nifti2", "pair" (a .hdr of a .hdr/.img pair) or None.

    NIfTI-1 starts with sizeof_hdr = 348 and carries its magic at byte 344; NIfTI-2 starts
    with 540 and carries its magic at byte 4. Either byte order is allowed.
    """
    if len(head) < 8:
        return None
    sizes = {int.from_bytes(head[:4], "little"), int.from_bytes(head[:4], "big")}
    if 540 in sizes and head[4:12] in _NIFTI2_MAGICS:
        return "nifti2" if head[4:7] == b"n+2" else "pair"
    if 348 in sizes and len(head) >= 348:
        magic = head[344:348]
        if magic == b"n+1\x00":
            return "nifti1"
        if magic == b"ni1\x00":
            return "pair"
    return None


def looks_like_raw_dicom(data: bytes) -> bool:
    """True when ``data`` may be a DICOM data set written without preamble and 'DICM'.

    Such files (old ACR-NEMA style, or exports from some planning systems) start directly with
    a group 0x0002 or 0x0008 element in little-endian order. This only says "worth a try";
    the parser then has to find group 0008/0028 elements before the file is believed.
    """
    if len(data) < 8:
        return False
    group, element = struct.unpack("<HH", data[:4])
    return group in (0x0002, 0x0008) and element < 0x2000


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) declared by a PNG's IHDR chunk, read without decoding anything."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def describe(data: bytes) -> str:
    """A short, content-free guess at what ``data`` is, for error messages."""
    if not data:
        return "an empty file"
    head = data[:512]
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (an .npz data set goes to the data set reader, not here)"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(GZIP_SIGNATURE):
        return "gzip-compressed data that is not a NIfTI volume"
    # "replace" rather than strict: the 512-byte cut may split one multi-byte character.
    text = head.decode("utf-8", errors="replace")
    if text.count("\ufffd") <= 1 and all(ch.isprintable() or ch in "\r\n\t\ufffd" for ch in text):
        return "text"
    return f"{len(data):,} bytes of unrecognised binary data"
