"""Reading sources into validated datasets.

- ``read_table``: a file or upload (CSV/TSV, Parquet, ARFF) to a frame of cleaned text columns.
- ``build_tabular_dataset``: a frame to a TabularDataset (typed features, encoded target).
- ``load_builtin_dataset``: a shipped dataset, verified by its sha256, ready for training.
- ``BUILTIN_COLUMN_INFO``: units and meanings of the shipped datasets' columns.
"""

from __future__ import annotations

from medmaas.data.builtin import BUILTIN_DATASETS, load_builtin_dataset
from medmaas.data.dataset import ColumnInfo, Dataset, TabularDataset, frame_sha256
from medmaas.data.readers import read_table
from medmaas.data.tabular import build_tabular_dataset
from medmaas.data.units import BUILTIN_COLUMN_INFO

__all__ = [
    "BUILTIN_COLUMN_INFO",
    "BUILTIN_DATASETS",
    "ColumnInfo",
    "Dataset",
    "TabularDataset",
    "build_tabular_dataset",
    "frame_sha256",
    "load_builtin_dataset",
    "read_table",
]
