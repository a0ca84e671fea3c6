"""The typed value that travels from a reader to a kind: a validated dataset."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Task = Literal["classification", "regression"]
ColumnType = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class ColumnInfo:
    """What was learned about one feature column while reading it."""

    name: str
    type: ColumnType
    n_missing: int
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass
class Dataset:
    """Validated training data shared by every kind: a name, a task, a target and a hash.

    Kinds subclass it with their own payload (a feature frame, image arrays, waveforms).
    """

    name: str
    task: Task
    target_name: str
    source: str
    content_sha256: str
    classes: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        raise NotImplementedError

    def summary(self) -> dict[str, object]:
        """The training-data summary written into the model card (no row-level data)."""
        return {
            "name": self.name,
            "source": self.source,
            "sha256": self.content_sha256,
            "n_samples": self.n_samples,
            "task": self.task,
            "target": self.target_name,
            "classes": list(self.classes),
        }


@dataclass
class TabularDataset(Dataset):
    """A feature table and its target. ``y`` holds class indices (0..k-1) or floats."""

    X: pd.DataFrame = field(default_factory=pd.DataFrame)
    y: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    columns: tuple[ColumnInfo, ...] = ()

    @property
    def n_samples(self) -> int:
        return len(self.X)

    def subset(self, index: object) -> TabularDataset:
        """Rows by position, keeping the schema (for splits)."""
        return TabularDataset(
            name=self.name,
            task=self.task,
            target_name=self.target_name,
            source=self.source,
            content_sha256=self.content_sha256,
            classes=self.classes,
            warnings=list(self.warnings),
            X=self.X.iloc[index].reset_index(drop=True),  # type: ignore[call-overload]
            y=self.y.iloc[index].reset_index(drop=True),  # type: ignore[call-overload]
            columns=self.columns,
        )

    def summary(self) -> dict[str, object]:
        out = super().summary()
        out["n_features"] = self.X.shape[1]
        out["features"] = [
            {"name": c.name, "type": c.type, "missing": c.n_missing} for c in self.columns
        ]
        if self.task == "classification":
            counts = self.y.value_counts().sort_index()
            out["class_counts"] = {self.classes[int(i)]: int(n) for i, n in counts.items()}
        else:
            out["target_mean"] = float(self.y.mean())
            out["target_std"] = float(self.y.std())
        return out


def frame_sha256(frame: pd.DataFrame) -> str:
    """A stable content hash of a table (values and column names), for provenance."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()
