"""Tiny image data sets made in memory: a bright blob (class "finding") or only noise."""

from __future__ import annotations

import numpy as np

from medmaas.kinds.image.dataset import ImageDataset, images_sha256


def blob_images(n: int, size: int, spatial_dims: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1, size, size[, size]) uint8 images; half carry a bright square somewhere."""
    rng = np.random.default_rng(seed)
    shape = (n, 1, *([size] * spatial_dims))
    images = rng.normal(70, 20, size=shape).clip(0, 255)
    y = np.arange(n) % 2
    side = max(3, size // 4)
    for i in np.flatnonzero(y):
        corner = rng.integers(0, size - side, size=spatial_dims)
        images[(i, 0, *(slice(c, c + side) for c in corner))] = 220
    return images.astype(np.uint8), y.astype(np.int64)


def blob_dataset(n: int = 96, size: int = 16, spatial_dims: int = 2, seed: int = 0,
                 with_splits: bool = False) -> ImageDataset:
    images, y = blob_images(n, size, spatial_dims, seed)
    split = None
    if with_splits:
        split = np.array(["train"] * n, dtype=object)
        split[-n // 5:] = "test"
        split[-2 * n // 5:-n // 5] = "val"
    return ImageDataset(name="blobs", task="classification", target_name="finding", source="memory",
                        content_sha256=images_sha256(images, y), classes=("none", "blob"),
                        images=images, y=y, split=split)
