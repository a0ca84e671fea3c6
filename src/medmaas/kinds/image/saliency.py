"""Where the model looked: occlusion sensitivity computed through the ONNX graph.

Serving has no PyTorch, so gradients are out of reach; occlusion needs only forward passes:
grey out one window at a time and record how much the explained class's probability falls.
A pixel's score is the mean fall over the windows that covered it, the definition of Captum's
``Occlusion`` (a test checks the two agree on the same network). Positive = evidence for the
class. The overlay is drawn with Pillow, so explanations need only the imaging extra.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product

import numpy as np

from medmaas._optional import optional_import

#: colour stops of the heat map (dark blue -> cyan -> yellow -> red), evenly spaced on 0..1
_STOPS = np.array([[0, 0, 96], [0, 160, 255], [255, 230, 0], [230, 20, 0]], dtype=np.float32)
MIN_OVERLAY_PIXELS = 224


@dataclass(frozen=True)
class Window:
    size: int
    stride: int

    @classmethod
    def for_shape(cls, spatial: tuple[int, ...]) -> Window:
        """About 7 windows across a 2D image (half-overlapping); 4 per axis in 3D, where every
        window costs a forward pass of a volume."""
        side = min(spatial)
        if len(spatial) == 2:
            size = max(2, round(side / 7))
            return cls(size=size, stride=max(1, size // 2))
        size = max(2, round(side / 4))
        return cls(size=size, stride=size)


def _starts(length: int, window: Window) -> list[int]:
    starts = list(range(0, max(1, length - window.size + 1), window.stride))
    if starts[-1] + window.size < length:  # the last window reaches the far edge
        starts.append(length - window.size)
    return starts


def occlusion(probabilities: Callable[[np.ndarray], np.ndarray], image: np.ndarray, target: int,
              window: Window, baseline: float, batch_size: int = 64,
              reference: float | None = None) -> np.ndarray:
    """Occlusion map of ``image`` (C, *spatial) for class ``target``: shape ``spatial``.

    ``probabilities`` maps a batch (n, C, *spatial) to class probabilities (n, k);
    ``reference`` is the unoccluded image's probability of ``target`` if the caller has it.
    """
    spatial = image.shape[1:]
    if reference is None:
        reference = float(probabilities(image[None])[0, target])
    corners = list(product(*(_starts(n, window) for n in spatial)))
    total = np.zeros(spatial, dtype=np.float64)
    covered = np.zeros(spatial, dtype=np.float64)
    for first in range(0, len(corners), batch_size):
        chunk = corners[first:first + batch_size]
        occluded = np.repeat(image[None], len(chunk), axis=0)
        for i, corner in enumerate(chunk):
            occluded[(i, slice(None), *(slice(c, c + window.size) for c in corner))] = baseline
        drops = reference - probabilities(occluded)[:, target]
        for corner, drop in zip(chunk, drops, strict=True):
            region = tuple(slice(c, c + window.size) for c in corner)
            total[region] += drop
            covered[region] += 1.0
    return (total / np.maximum(covered, 1.0)).astype(np.float32)


def strongest_slice(heatmap: np.ndarray) -> int:
    """For a volume (D, H, W): the slice along D holding the most positive evidence."""
    return int(np.argmax(np.clip(heatmap, 0, None).reshape(heatmap.shape[0], -1).sum(axis=1)))


def overlay_png(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.55) -> bytes:
    """PNG of a 2D image (C, H, W) on the display scale with the positive part of ``heatmap``
    (H, W) blended over it, enlarged to at least 224 px so a person can see it."""
    pil = optional_import("PIL.Image", "imaging")
    grey = image.mean(axis=0) if image.shape[0] != 3 else None
    base = (np.repeat(grey[..., None], 3, axis=2) if grey is not None
            else np.moveaxis(image, 0, -1)).astype(np.float32)
    positive = np.clip(heatmap, 0, None)
    scale = float(positive.max())
    level = positive / scale if scale > 0 else positive
    colour = _colour(level)
    weight = (alpha * level)[..., None]
    blended = np.clip(base * (1 - weight) + colour * weight, 0, 255).astype(np.uint8)
    picture = pil.fromarray(blended, mode="RGB")
    factor = max(1, int(np.ceil(MIN_OVERLAY_PIXELS / min(picture.size))))
    if factor > 1:
        picture = picture.resize((picture.width * factor, picture.height * factor), pil.Resampling.NEAREST)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _colour(level: np.ndarray) -> np.ndarray:
    position = np.clip(level, 0, 1) * (len(_STOPS) - 1)
    low = np.floor(position).astype(int).clip(0, len(_STOPS) - 2)
    frac = (position - low)[..., None]
    return _STOPS[low] * (1 - frac) + _STOPS[low + 1] * frac


def png_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
