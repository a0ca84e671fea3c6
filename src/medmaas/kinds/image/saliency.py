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
from typing import Any

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
    picture = pil.fromarray(_blend(image, heatmap, float(np.clip(heatmap, 0, None).max()), alpha), mode="RGB")
    return _png(_enlarged(picture, MIN_OVERLAY_PIXELS))


#: A volume's montage shows at most this many slices, evenly spaced, the strongest among them.
MONTAGE_SLICES = 16
MIN_TILE_PIXELS = 96


def montage_png(volume: np.ndarray, heatmap: np.ndarray, alpha: float = 0.55) -> tuple[bytes, list[int]]:
    """PNG of a volume's slices (C, D, H, W) side by side, each with its part of ``heatmap``
    (D, H, W) blended over it on one colour scale, so slices compare by colour; each tile is
    numbered with its slice. Returns the PNG and the slice numbers shown, in order.

    One overlay shows one slice: evidence spread over several, or a second finding elsewhere in
    the volume, is only visible side by side."""
    pil = optional_import("PIL.Image", "imaging")
    draw = optional_import("PIL.ImageDraw", "imaging")
    depth, strongest = heatmap.shape[0], strongest_slice(heatmap)
    shown = sorted({*np.linspace(0, depth - 1, min(depth, MONTAGE_SLICES)).round().astype(int).tolist(),
                    strongest})
    if len(shown) > MONTAGE_SLICES:  # the strongest replaced its nearest evenly spaced neighbour
        shown.remove(min((i for i in shown if i != strongest), key=lambda i: abs(i - strongest)))
    scale = float(np.clip(heatmap[shown], 0, None).max())
    tiles = [_enlarged(pil.fromarray(_blend(volume[:, i], heatmap[i], scale, alpha), mode="RGB"), MIN_TILE_PIXELS)
             for i in shown]
    columns = int(np.ceil(np.sqrt(len(tiles))))
    rows = int(np.ceil(len(tiles) / columns))
    gap, (width, height) = 2, tiles[0].size
    sheet = pil.new("RGB", (columns * (width + gap) - gap, rows * (height + gap) - gap), (255, 255, 255))
    pen = draw.Draw(sheet)
    for n, (index, tile) in enumerate(zip(shown, tiles, strict=True)):
        x, y = (n % columns) * (width + gap), (n // columns) * (height + gap)
        sheet.paste(tile, (x, y))
        pen.rectangle((x, y, x + 6 * len(str(index)) + 4, y + 11), fill=(0, 0, 0))
        pen.text((x + 2, y), str(index), fill=(255, 255, 255))
    return _png(sheet), shown


def _blend(image: np.ndarray, heatmap: np.ndarray, scale: float, alpha: float) -> np.ndarray:
    """RGB uint8 (H, W, 3): ``image`` (C, H, W) with ``heatmap``'s positive part over it, where
    ``scale`` is the heat that gets the full colour."""
    grey = image.mean(axis=0) if image.shape[0] != 3 else None
    base = (np.repeat(grey[..., None], 3, axis=2) if grey is not None
            else np.moveaxis(image, 0, -1)).astype(np.float32)
    positive = np.clip(heatmap, 0, None)
    level = positive / scale if scale > 0 else positive
    weight = (alpha * level)[..., None]
    return np.clip(base * (1 - weight) + _colour(level) * weight, 0, 255).astype(np.uint8)


def _enlarged(picture: Any, smallest: int) -> Any:
    """Scaled up by a whole factor (nearest neighbour: pixels stay pixels) to ``smallest`` px."""
    factor = max(1, int(np.ceil(smallest / min(picture.size))))
    if factor == 1:
        return picture
    nearest = optional_import("PIL.Image", "imaging").Resampling.NEAREST
    return picture.resize((picture.width * factor, picture.height * factor), nearest)


def _png(picture: Any) -> bytes:
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
