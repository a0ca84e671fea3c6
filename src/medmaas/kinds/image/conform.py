"""One image to the shape a model takes: the same code at training and at serving.

Needs numpy and scipy only (no torch), so the server conforms uploads exactly as the training
set was conformed. Channels and dimensionality must already match: silently dropping colour or
picking a slice of a volume would hand the model something it never saw, so those are refused
with the reason; only the spatial size is resampled.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medmaas.exceptions import SchemaError

DISPLAY_MAX = 255.0


def describe(shape: Sequence[int]) -> str:
    """``[1, 28, 28]`` -> ``'1-channel 28×28'``."""
    return f"{shape[0]}-channel {'×'.join(str(d) for d in shape[1:])}"


def conform(pixels: np.ndarray, shape: Sequence[int], *, where: str = "image") -> tuple[np.ndarray, list[str]]:
    """``pixels`` (C, *spatial) on the display scale -> float32 of exactly ``shape``, and notes.

    >>> out, notes = conform(np.full((1, 56, 56), 10.0), [1, 28, 28])
    >>> out.shape, notes
    ((1, 28, 28), ['resized from 56×56 to 28×28'])
    """
    want_dims, got_dims = len(shape) - 1, pixels.ndim - 1
    if got_dims != want_dims:
        raise SchemaError(f"{where}: the model takes {want_dims}D images ({describe(shape)}); got a "
                          f"{got_dims}D image of shape {list(pixels.shape)} (channels first)")
    if pixels.shape[0] != shape[0]:
        hint = ("convert it to greyscale first" if shape[0] == 1 else
                "send the colour image" if shape[0] == 3 else f"send {shape[0]} channels")
        raise SchemaError(f"{where}: the model takes {shape[0]}-channel images; got {pixels.shape[0]} "
                          f"channel(s): {hint}")
    pixels = np.asarray(pixels, dtype=np.float32)
    if not np.isfinite(pixels).all():
        raise SchemaError(f"{where}: pixel values must be finite numbers (found NaN or infinity)")
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0.0 or high > DISPLAY_MAX:
        raise SchemaError(f"{where}: pixel values must lie on the display scale 0..255 (as in a PNG "
                          f"or a windowed DICOM); got {low:g}..{high:g}")
    notes: list[str] = []
    if tuple(pixels.shape[1:]) != tuple(shape[1:]):
        notes.append(f"resized from {'×'.join(map(str, pixels.shape[1:]))} to "
                     f"{'×'.join(map(str, shape[1:]))}")
        pixels = resize(pixels, shape[1:])
    return np.ascontiguousarray(pixels, dtype=np.float32), notes


def resize(pixels: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Linear resampling of every channel to ``size``; strong reductions are box-filtered
    first so fine texture does not alias into the small image."""
    from scipy import ndimage

    factors = [want / got for want, got in zip(size, pixels.shape[1:], strict=True)]
    smoothing = [1] + [max(1, round(1 / f)) if f < 0.5 else 1 for f in factors]
    if any(s > 1 for s in smoothing):
        pixels = ndimage.uniform_filter(pixels, size=smoothing, mode="nearest")
    out = ndimage.zoom(pixels, [1.0, *factors], order=1, mode="nearest", grid_mode=True)
    # zoom rounds the output size; make it exact whatever the rounding did.
    index = tuple(slice(0, s) for s in (pixels.shape[0], *size))
    if out.shape != (pixels.shape[0], *size):
        padded = np.pad(out, [(0, max(0, w - g)) for w, g in zip((pixels.shape[0], *size), out.shape, strict=True)],
                        mode="edge")
        out = padded[index]
    return np.clip(out, 0.0, DISPLAY_MAX).astype(np.float32)
