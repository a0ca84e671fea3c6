"""The text kind's dataset: one note per sample and its class."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from medmaas.data.dataset import Dataset


@dataclass
class TextDataset(Dataset):
    """``texts``: the notes; ``y``: class indices into ``classes``; ``deidentified``: whether
    the notes have been through de-identification (the reader does it; the kind does it for a
    dataset built in memory, unless told not to)."""

    texts: list[str] = field(default_factory=list)
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    deidentified: bool = False

    @property
    def n_samples(self) -> int:
        return len(self.texts)

    def subset(self, index: np.ndarray) -> TextDataset:
        return TextDataset(
            name=self.name, task=self.task, target_name=self.target_name, source=self.source,
            content_sha256=self.content_sha256, classes=self.classes, warnings=list(self.warnings),
            texts=[self.texts[int(i)] for i in index], y=self.y[index], deidentified=self.deidentified,
        )

    def summary(self) -> dict[str, object]:
        out = super().summary()
        counts = np.bincount(self.y, minlength=len(self.classes))
        out["class_counts"] = {c: int(n) for c, n in zip(self.classes, counts, strict=True)}
        lengths = np.array([len(t) for t in self.texts]) if self.texts else np.zeros(1)
        out["characters_per_text"] = {"median": int(np.median(lengths)), "max": int(lengths.max())}
        return out


def texts_sha256(texts: list[str], y: np.ndarray) -> str:
    """Content hash of texts and labels, for provenance in the model card."""
    digest = hashlib.sha256()
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return digest.hexdigest()
