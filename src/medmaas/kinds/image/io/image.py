"""The one value every image reader returns, and the helpers the readers share.

Every reader puts intensities on the same *display* scale, 0..255 float32, so that a model
trained on PNGs or MedMNIST (uint8) sees a DICOM or NIfTI file the way a viewer shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medmaas.exceptions import InvalidInputError, PayloadTooLargeError

#: Decompression-bomb limit: declared samples (rows*cols*frames*channels) beyond it are refused
#: before anything is decoded. 64 M samples is a 4 x 4k x 4k RGB study, or 250 CT slices.
DEFAULT_MAX_PIXELS = 64_000_000

#: Percentiles of the robust min-max used when a file carries no window of its own: a few hot
#: pixels (metal, text overlays) must not squeeze the anatomy into a handful of grey levels.
ROBUST_PERCENTILES = (0.5, 99.5)

# Percentiles of a huge volume are estimated on an even stride of this many samples: the
# estimate is stable to well under one grey level and keeps a 64 M-voxel read fast.
_PERCENTILE_SAMPLES = 4_000_000


@dataclass
class Image:
    """A decoded image or volume on the display scale, with what was done to get it there.

    ``pixels`` is float32, channels first: (C, H, W) for 2D or (C, D, H, W) for volumes, with
    C = 1 (grey) or 3 (RGB) and values in 0..255. ``notes`` record each step taken (rescale,
    window, inversion, ...) and never hold patient data.

    >>> img = Image(np.zeros((1, 4, 5), np.float32), "array")
    >>> img.spatial_dims
    2
    """

    pixels: np.ndarray
    format: str
    modality: str | None = None
    spacing: tuple[float, ...] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def spatial_dims(self) -> int:
        """2 for an image, 3 for a volume: the axes after the channel axis."""
        return int(self.pixels.ndim) - 1


def load_source(data: bytes | Path, filename: str = "") -> tuple[bytes, str]:
    """Return the bytes and a name to put in messages (the file name, never a full path).

    Only the base name goes into messages: directory names can hold patient names.
    """
    if isinstance(data, Path):
        name = Path(filename).name if filename else data.name
        try:
            return data.read_bytes(), name
        except FileNotFoundError:
            raise InvalidInputError(f"{name}: file not found") from None
        except IsADirectoryError:
            raise InvalidInputError(f"{name}: is a folder, not a file") from None
        except OSError as exc:
            raise InvalidInputError(f"{name}: cannot read the file ({exc.strerror})") from None
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise InvalidInputError(f"expected bytes or a Path; got {type(data).__name__}")
    return data, Path(filename).name if filename else "image"


def check_declared_size(
    name: str, shape: tuple[int, ...], max_pixels: int, *, what: str = "pixels"
) -> None:
    """Refuse a declared shape whose sample count is over ``max_pixels``, before decoding.

    The shape comes from the header, so this costs nothing and stops a decompression bomb
    before it allocates anything.
    """
    count = 1
    for dim in shape:
        count *= max(int(dim), 0)
    if count > max_pixels:
        dims = " x ".join(str(int(d)) for d in shape)
        raise PayloadTooLargeError(
            f"{name}: declares {dims} {what} ({count:,}), over the limit of {max_pixels:,}; "
            "refused before decoding"
        )


#: The most samples a JPEG may declare per byte of its file. libjpeg's encoder writes at most
#: ~510 on a perfectly uniform image (every block a zero DC difference and an end-of-block
#: code); a file that declares far more is truncated or crafted, and the decoder would fill
#: the missing part with grey: a 333-byte file declaring 8000 x 8000 decoded to 64 M samples
#: and took 400 MB. Arithmetic-coded JPEGs could compress further; no scanner or browser
#: writes them.
MAX_JPEG_SAMPLES_PER_BYTE = 4096


def check_jpeg_ratio(name: str, samples: int, nbytes: int) -> None:
    """Refuse JPEG data that declares more samples than its bytes can hold, before decoding.

    >>> check_jpeg_ratio("x.jpg", 512 * 512, 2_000)
    >>> check_jpeg_ratio("bomb.jpg", 8000 * 8000, 333)
    Traceback (most recent call last):
    ...
    medmaas.exceptions.InvalidInputError: bomb.jpg: declares 64,000,000 samples in only 333 bytes (192,192 per byte; a real JPEG holds at most about 500): the file is truncated or crafted; refused before decoding
    """
    if samples > MAX_JPEG_SAMPLES_PER_BYTE * max(nbytes, 1):
        raise InvalidInputError(
            f"{name}: declares {samples:,} samples in only {nbytes:,} bytes "
            f"({samples // max(nbytes, 1):,} per byte; a real JPEG holds at most about 500): "
            "the file is truncated or crafted; refused before decoding"
        )


def robust_to_display(arr: np.ndarray) -> tuple[np.ndarray, str]:
    """Map ``arr`` to 0..255 between its 0.5 and 99.5 percentiles; return it and a note.

    Falls back to the plain min-max when the percentiles coincide (a sparse mask), and to all
    zeros for a constant image, so a segmentation or a blank frame still reads.
    """
    values = arr.astype(np.float32, copy=False)
    mask = np.isfinite(values)
    finite = values.ravel() if mask.all() else values[mask]
    if finite.size == 0:
        return np.zeros(arr.shape, np.float32), "no finite values: read as black"
    sample = finite[:: max(1, finite.size // _PERCENTILE_SAMPLES)]
    lo, hi = (float(v) for v in np.percentile(sample, ROBUST_PERCENTILES))
    note = (
        f"scaled to 0..255 between the {ROBUST_PERCENTILES[0]} and {ROBUST_PERCENTILES[1]} "
        "percentiles"
    )
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
        note = "scaled to 0..255 between its minimum and maximum"
    if hi <= lo:
        return np.zeros(arr.shape, np.float32), "constant image: read as black"
    return _linear(np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo), lo, hi), note


def scale_to_display(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map the known output range [lo, hi] of a LUT or window linearly to 0..255; NaN (a float
    image's "no value") shows as 0, like the background.

    >>> scale_to_display(np.array([0.0, 50.0, np.nan, 200.0]), 0.0, 100.0).tolist()
    [0.0, 127.5, 0.0, 255.0]
    """
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.zeros(arr.shape, np.float32)
    return _linear(arr, lo, hi)


def _linear(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``(values - lo) * 255 / (hi - lo)`` clipped to 0..255, NaN to 0, for finite ``lo < hi``.

    The factor is taken in float64: a range narrower than ~1e-36 (denormal floats in a NIfTI)
    overflows float32's, and 0 * inf would turn the darkest pixels into NaN.
    """
    scale = 255.0 / (float(hi) - float(lo))
    with np.errstate(over="ignore", invalid="ignore"):
        if scale <= np.finfo(np.float32).max:
            out = (values.astype(np.float32, copy=False) - np.float32(lo)) * np.float32(scale)
        else:
            out = (values.astype(np.float64) - float(lo)) * scale
    out = np.nan_to_num(out, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(out, 0.0, 255.0).astype(np.float32, copy=False)
