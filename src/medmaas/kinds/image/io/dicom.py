"""Read a DICOM file into an ``Image``: parse, de-identify, check the size, decode, display.

The order matters. De-identification comes right after parsing, so nothing downstream (not
even an error message) can see identifiers; the size check comes before the decoder, so a
header declaring 40000 x 40000 pixels costs nothing; the decoder comes last.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medmaas.exceptions import InvalidInputError, MedmaasError
from medmaas.kinds.image.io.deid import deidentify_dataset
from medmaas.kinds.image.io.dicom_display import colour_to_display, grey_to_display, spacing
from medmaas.kinds.image.io.dicomfile import PIXEL_DATA_TAGS, parse_dicom, quiet
from medmaas.kinds.image.io.image import (
    DEFAULT_MAX_PIXELS,
    Image,
    check_declared_size,
    check_jpeg_ratio,
    load_source,
)

if TYPE_CHECKING:
    from pydicom import Dataset

_GREY = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR")


def read_dicom(
    data: bytes | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, deidentify: bool = True
) -> Image:
    """Read a DICOM image, de-identified, as display-scale float32 pixels (0..255).

    Grey images come back as (1, H, W), multi-frame ones as (1, F, H, W), colour as 3
    channels. Objects without pixel data (RT plans, structure sets, reports) are refused.

    >>> img = read_dicom(Path("CT_small.dcm"))    # doctest: +SKIP
    >>> img.modality, img.pixels.shape            # doctest: +SKIP
    ('CT', (1, 128, 128))
    """
    raw, name = load_source(data)
    return read_dicom_bytes(raw, name, max_pixels=max_pixels, deidentify=deidentify)


def read_dicom_bytes(
    raw: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, deidentify: bool = True
) -> Image:
    """``read_dicom`` on bytes already in memory, with the name to use in messages."""
    # pydicom converts elements lazily, and a conversion may warn with the value it found:
    # everything below (decoding, display conversion) runs inside this one quiet().
    with quiet():
        return _read(raw, name, max_pixels, deidentify)


def _read(raw: bytes, name: str, max_pixels: int, deidentify: bool) -> Image:
    from pydicom.uid import JPEGTransferSyntaxes

    ds = parse_dicom(raw, name)
    notes: list[str] = []
    if deidentify:
        try:
            deidentify_dataset(ds)
        except InvalidInputError as exc:
            raise InvalidInputError(f"{name}: {exc}") from None
        notes.append("de-identified (PS3.15 basic application confidentiality profile)")
    if not any(tag in ds for tag in PIXEL_DATA_TAGS):
        raise InvalidInputError(
            f"{name}: this DICOM object ({sop_class_name(ds)}) has no pixel data; "
            "send an image" + _truncation_hint(ds)
        )
    rows, cols, frames, samples = _geometry(ds, name)
    declared = (
        ((frames,) if frames > 1 else ()) + (rows, cols) + ((samples,) if samples > 1 else ())
    )
    check_declared_size(name, declared, max_pixels)
    # pydicom's JPEG syntaxes (baseline, extended, lossless) are held to the ratio; JPEG-LS and
    # JPEG 2000 code flat areas far more tightly, so no such bound holds for them.
    if ds.file_meta.get("TransferSyntaxUID") in JPEGTransferSyntaxes:
        check_jpeg_ratio(name, math.prod(declared), len(raw))
    arr, photometric = _decode(ds, name)
    try:
        pixels, steps = _to_display(arr, photometric, ds, frames, samples, name)
    except MedmaasError:
        raise
    except (
        ValueError, TypeError, KeyError, IndexError, AttributeError, NotImplementedError,
        OverflowError, ZeroDivisionError, struct.error,
    ) as exc:  # fmt: skip
        # pydicom's LUT functions unpack the LUT data with struct, sized by its descriptor.
        raise InvalidInputError(
            f"{name}: the pixel data could not be brought to display values "
            f"({type(exc).__name__}); the image attributes (group 0028) are inconsistent"
        ) from None
    notes += steps
    where, spacing_notes = spacing(ds, frames)
    notes += spacing_notes
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        notes.append("burned-in annotation declared: text in the pixels is not removed")
    modality = str(ds.get("Modality") or "") or None
    return Image(pixels, "dicom", modality=modality, spacing=where, notes=notes)


def sop_class_name(ds: Dataset) -> str:
    """The SOP class by its DICOM name ("RT Plan Storage"), for messages."""
    uid = ds.get("SOPClassUID")
    if not uid:
        return "unknown SOP class"
    name = getattr(uid, "name", "") or str(uid)
    return str(name)


def _truncation_hint(ds: Dataset) -> str:
    # An image storage class (or no SOP class at all) without pixel data is most likely a
    # file cut short before its Pixel Data element.
    name = sop_class_name(ds)
    return " (the file may be truncated)" if "Image" in name or name.startswith("unknown") else ""


#: Image Pixel attributes (Type 1) a decoder needs to size and read the pixel data.
_PIXEL_ATTRIBUTES = {
    "Rows": "Rows", "Columns": "Columns", "BitsAllocated": "Bits Allocated",
    "SamplesPerPixel": "Samples per Pixel", "PhotometricInterpretation": "Photometric Interpretation",
}  # fmt: skip


def _geometry(ds: Dataset, name: str) -> tuple[int, int, int, int]:
    missing = [label for keyword, label in _PIXEL_ATTRIBUTES.items() if ds.get(keyword) in (None, "")]
    if missing:
        raise InvalidInputError(
            f"{name}: the pixel data cannot be read without {', '.join(missing)} (group 0028), "
            "which the file lacks or leaves empty"
        )
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames") or 1)
        samples = int(ds.SamplesPerPixel)
    except (AttributeError, TypeError, ValueError):
        raise InvalidInputError(
            f"{name}: the pixel data lacks valid Rows, Columns, Number of Frames or "
            "Samples per Pixel"
        ) from None
    if min(rows, cols, frames) < 1 or samples not in (1, 3):
        raise InvalidInputError(
            f"{name}: impossible image geometry: {rows} rows, {cols} columns, {frames} frames, "
            f"{samples} samples per pixel"
        )
    return rows, cols, frames, samples


def _decode(ds: Dataset, name: str) -> tuple[np.ndarray, str]:
    """Decode with pydicom's decoder for the transfer syntax; return array and its colour space.

    ``raw=True`` leaves colour conversion to us, and the decoder's metadata says which colour
    space the array is really in (JPEG decoders often convert YCbCr themselves).
    """
    from pydicom.pixels import as_pixel_options, get_decoder
    from pydicom.pixels.utils import get_expected_length

    syntax = ds.file_meta.TransferSyntaxUID
    label = f"'{syntax.name}' ({syntax})" if syntax.name != str(syntax) else f"'{syntax}'"
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise InvalidInputError(
            f"{name}: pixel data in transfer syntax {label} cannot be decoded: pydicom has no "
            "decoder for it; convert the file to an uncompressed or JPEG transfer syntax"
        ) from None
    if not decoder.is_available:
        packages = "; ".join(decoder.missing_dependencies) or "a pydicom decoding plugin"
        raise InvalidInputError(
            f"{name}: pixel data in transfer syntax {label} needs a decoder that is not "
            f"installed; install one of: {packages}"
        )
    if not syntax.is_encapsulated and "PixelData" in ds:
        try:
            expected, held = get_expected_length(ds), len(ds.PixelData or b"")
        except (AttributeError, TypeError, ValueError, KeyError) as exc:
            raise InvalidInputError(
                f"{name}: the image attributes (group 0028) do not say how long the pixel data "
                f"is ({type(exc).__name__}); the file is malformed"
            ) from None
        if held < expected:
            raise InvalidInputError(
                f"{name}: pixel data holds {held} bytes but rows x columns x frames x samples "
                f"need {expected}: the file is truncated or its image attributes are wrong"
            )
    try:
        # Surplus bytes never become frames the header does not declare: the size check
        # above counted the declared ones.
        options = {**as_pixel_options(ds), "allow_excess_frames": False}
        arr, meta = decoder.as_array(ds, validate=True, raw=True, **options)
    except MedmaasError:
        raise
    except Exception as exc:  # decoder plugins raise anything from RuntimeError to struct.error
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise InvalidInputError(
            f"{name}: could not decode the pixel data in transfer syntax {label}: {detail}"
        ) from None
    return arr, str(meta.get("photometric_interpretation") or ds.PhotometricInterpretation)


def _to_display(
    arr: np.ndarray, photometric: str, ds: Dataset, frames: int, samples: int, name: str
) -> tuple[np.ndarray, list[str]]:
    """Channels-first display pixels: (1|3, H, W), or (1|3, F, H, W) for multi-frame."""
    if frames == 1:
        arr = arr[np.newaxis]  # a single frame has no frame axis; add one, drop it at the end
    notes: list[str] = []
    if samples == 3 or photometric == "PALETTE COLOR":
        if photometric not in _COLOUR:
            raise InvalidInputError(
                f"{name}: colour photometric interpretation {photometric!r} is not supported; "
                f"expected one of {', '.join(_COLOUR)}"
            )
        shown, notes = colour_to_display(arr, photometric, ds)
        shown = np.moveaxis(shown, -1, 0)  # (F, H, W, 3) -> (3, F, H, W)
    elif photometric in _GREY:
        grey, notes = grey_to_display(arr, ds)
        shown = grey[np.newaxis]
    else:
        raise InvalidInputError(
            f"{name}: photometric interpretation {photometric!r} is not supported for "
            "single-sample images; expected MONOCHROME1, MONOCHROME2 or PALETTE COLOR"
        )
    if frames == 1:
        shown = shown[:, 0]
    else:
        notes.append(f"{frames} frames read as a volume (frame axis first)")
    return np.ascontiguousarray(shown, dtype=np.float32), notes
