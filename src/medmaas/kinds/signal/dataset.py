"""The signal kind's dataset: ECG beats (windows and RR features), their classes, and the
record each beat came from (for patient-wise splits and per-record reports)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from medmaas.data.dataset import Dataset
from medmaas.kinds.signal.processing import MODEL_RATE, WINDOW


@dataclass
class BeatDataset(Dataset):
    """``windows`` (n, WINDOW) mV at MODEL_RATE; ``rhythm`` (n, 5) RR features; ``y`` class
    indices into ``classes``; ``records`` the record (patient) of each beat; ``lead`` the lead
    the beats were cut from."""

    windows: np.ndarray = field(default_factory=lambda: np.zeros((0, WINDOW), np.float32))
    rhythm: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.float32))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    records: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U16"))
    lead: str = "MLII"

    @property
    def n_samples(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> BeatDataset:
        return BeatDataset(
            name=self.name, task=self.task, target_name=self.target_name, source=self.source,
            content_sha256=self.content_sha256, classes=self.classes, warnings=list(self.warnings),
            windows=self.windows[index], rhythm=self.rhythm[index], y=self.y[index],
            records=self.records[index], lead=self.lead,
        )

    def of_records(self, names: list[str] | set[str]) -> BeatDataset:
        """The beats of the named records (a patient-wise part)."""
        return self.subset(np.flatnonzero(np.isin(self.records, list(names))))

    def summary(self) -> dict[str, object]:
        out = super().summary()
        counts = np.bincount(self.y, minlength=len(self.classes))
        out["class_counts"] = {c: int(n) for c, n in zip(self.classes, counts, strict=True)}
        out["records"] = len(np.unique(self.records))
        out["lead"] = self.lead
        out["sampling_rate_hz"] = MODEL_RATE
        return out


def beats_sha256(windows: np.ndarray, y: np.ndarray, records: np.ndarray) -> str:
    """Content hash of beats, labels and record names, for provenance in the model card."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(windows, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    digest.update("\n".join(map(str, records)).encode())
    return digest.hexdigest()
