"""Read a PNG or JPEG into an ``Image`` with Pillow.

Pillow reads the header on ``open`` and the pixels on ``load``; the size check sits between
the two (and for PNG before Pillow is even called, from the IHDR chunk), so a small file that
declares a huge image is refused before any memory is spent on it.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from medmaas._optional import optional_import
from medmaas.exceptions import InvalidInputError, MedmaasError, PayloadTooLargeError
from medmaas.kinds.image.io.image import (
    DEFAULT_MAX_PIXELS,
    Image,
    check_declared_size,
    check_jpeg_ratio,
    load_source,
    robust_to_display,
    scale_to_display,
)
from medmaas.kinds.image.io.sniff import describe, png_size, sniff_format

_ALPHA_MODES = {"RGBA": "RGB", "RGBa": "RGB", "LA": "L", "La": "L", "PA": "RGB"}
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def read_raster(data: bytes | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Read a PNG or JPEG as display-scale float32 pixels: (1, H, W) grey or (3, H, W) RGB.

    16-bit greyscale is scaled to 0..255; transparency is composited on black; an RGB image
    whose three channels are identical is returned as grey.

    >>> from PIL import Image as PILImage
    >>> buf = io.BytesIO()
    >>> PILImage.new("L", (5, 4), 200).save(buf, "PNG")
    >>> img = read_raster(buf.getvalue())
    >>> img.pixels.shape, float(img.pixels.max())
    ((1, 4, 5), 200.0)
    """
    raw, name = load_source(data)
    return read_raster_bytes(raw, name, max_pixels=max_pixels)


def read_raster_bytes(raw: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """``read_raster`` on bytes already in memory, with the name to use in messages."""
    pil = optional_import("PIL.Image", "imaging")
    kind = sniff_format(raw)
    if kind not in ("png", "jpeg"):
        raise InvalidInputError(f"{name}: not a PNG or JPEG image; got {describe(raw)}")
    declared = png_size(raw)
    if declared is not None:
        check_declared_size(name, (declared[1], declared[0]), max_pixels)
    im = _open(pil, raw, kind, name)
    width, height = im.size
    bands = len(im.getbands())
    check_declared_size(name, (height, width) + ((bands,) if bands > 1 else ()), max_pixels)
    if kind == "jpeg":
        check_jpeg_ratio(name, height * width * bands, len(raw))
    frames = int(getattr(im, "n_frames", 1) or 1)
    try:
        im.load()
        notes = _orient(im)
        if notes:
            im = optional_import("PIL.ImageOps", "imaging").exif_transpose(im)
        pixels, steps = _to_display(im, name)
    except MedmaasError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInputError(
            f"{name}: truncated or corrupt {kind.upper()} ({_first_line(exc)})"
        ) from None
    if frames > 1:
        steps.append(f"first of {frames} frames read")
    return Image(pixels, kind, notes=notes + steps)


def _open(pil: Any, raw: bytes, kind: str, name: str) -> Any:
    """Open (header only) with Pillow, restricted to the sniffed format."""
    try:
        with warnings.catch_warnings():
            # Below Pillow's own error threshold it only warns; our limit decides instead.
            warnings.simplefilter("ignore", pil.DecompressionBombWarning)
            return pil.open(io.BytesIO(raw), formats=["PNG" if kind == "png" else "JPEG"])
    except pil.DecompressionBombError as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        count = f" ({int(match.group(1)):,})" if match else ""
        raise PayloadTooLargeError(
            f"{name}: declares more pixels{count} than Pillow's decompression-bomb limit; "
            "refused before decoding"
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidInputError(
            f"{name}: corrupt {kind.upper()} header ({_first_line(exc)})"
        ) from None


def _orient(im: Any) -> list[str]:
    # Phone photos (a skin lesion, a wound) store "rotate me" in EXIF rather than in pixels.
    try:
        orientation = int(im.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError, SyntaxError):
        return []
    return [f"rotated upright per EXIF orientation {orientation}"] if orientation != 1 else []


def _to_display(im: Any, name: str) -> tuple[np.ndarray, list[str]]:
    """Pillow image to channels-first float32 0..255, with what was done."""
    notes: list[str] = []
    mode = im.mode
    if mode == "P":
        has_alpha = "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        notes.append("palette expanded to RGB")
        mode = im.mode
    if mode in _ALPHA_MODES:
        target = _ALPHA_MODES[mode]
        rgba = np.asarray(im.convert("RGBA" if target == "RGB" else "LA"), dtype=np.float32)
        colour, alpha = rgba[..., :-1], rgba[..., -1:] / np.float32(255.0)
        arr = colour * alpha
        notes.append("alpha channel dropped after compositing on black")
        return _channels_first(arr, notes)
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"converted from {mode} to RGB")
        return _channels_first(np.asarray(im.convert("RGB"), dtype=np.float32), notes)
    if mode == "1":
        notes.append("1-bit image read as 0 and 255")
        return _channels_first(np.asarray(im.convert("L"), dtype=np.float32), notes)
    if mode in ("L", "RGB"):
        return _channels_first(np.asarray(im, dtype=np.float32), notes)
    if mode in _SIXTEEN_BIT or mode == "I":
        values = np.asarray(im)
        if mode in _SIXTEEN_BIT or (values.min() >= 0 and values.max() <= 65535):
            notes.append("16-bit values scaled to 0..255 (divided by 65535)")
            return scale_to_display(values, 0.0, 65535.0)[np.newaxis], notes
    if mode in ("I", "F"):
        shown, note = robust_to_display(np.asarray(im))
        return shown[np.newaxis], [*notes, note]
    raise InvalidInputError(f"{name}: Pillow image mode {mode!r} is not supported")


def _channels_first(arr: np.ndarray, notes: list[str]) -> tuple[np.ndarray, list[str]]:
    """(H, W) or (H, W, 3) to (1|3, H, W); identical RGB channels collapse to grey."""
    if arr.ndim == 2:
        return np.ascontiguousarray(arr[np.newaxis], dtype=np.float32), notes
    if arr.shape[-1] == 1:
        return np.ascontiguousarray(np.moveaxis(arr, -1, 0), dtype=np.float32), notes
    if np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
        # Scanned films and many exports are grey saved as RGB; a grey model should read them.
        notes.append("colour channels identical: read as greyscale")
        return np.ascontiguousarray(arr[np.newaxis, ..., 0], dtype=np.float32), notes
    return np.ascontiguousarray(np.moveaxis(arr, -1, 0), dtype=np.float32), notes


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200] or type(exc).__name__
