"""The image kind's dataset: pixel arrays on the display scale, labels and official splits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from medmaas.data.dataset import Dataset
from medmaas.kinds.image.io.npz import SPLITS


@dataclass
class ImageDataset(Dataset):
    """``images``: (n, C, H, W) or (n, C, D, H, W) on the display scale 0..255 (uint8 or
    float32); ``y``: class indices; ``split``: "train" / "val" / "test" per image when the
    source defines them (MedMNIST), so the official test split stays the test split."""

    images: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1, 1), np.uint8))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    split: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, ...]:
        """One sample's shape: (C, H, W) or (C, D, H, W)."""
        return tuple(int(d) for d in self.images.shape[1:])

    def subset(self, index: np.ndarray) -> ImageDataset:
        return ImageDataset(
            name=self.name, task=self.task, target_name=self.target_name, source=self.source,
            content_sha256=self.content_sha256, classes=self.classes, warnings=list(self.warnings),
            images=self.images[index], y=self.y[index],
            split=None if self.split is None else self.split[index],
        )

    def part(self, name: str) -> ImageDataset:
        """The images of one official split (empty when the source has none)."""
        if self.split is None:
            return self.subset(np.zeros(0, dtype=np.int64))
        return self.subset(np.flatnonzero(self.split == name))

    def summary(self) -> dict[str, object]:
        out = super().summary()
        out["image_shape"] = list(self.shape)
        counts = np.bincount(self.y, minlength=len(self.classes))
        out["class_counts"] = {c: int(n) for c, n in zip(self.classes, counts, strict=True)}
        if self.split is not None:
            out["splits"] = {s: int((self.split == s).sum()) for s in SPLITS if (self.split == s).any()}
        return out


def images_sha256(images: np.ndarray, y: np.ndarray) -> str:
    """Content hash of pixels and labels, for provenance in the model card."""
    digest = hashlib.sha256()
    digest.update(str(images.shape).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()
