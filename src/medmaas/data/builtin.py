"""The datasets that ship with medmaas, for the built-in models, demos and tests.

Each is a CSV under ``medmaas/builtin/data/`` (provenance, licence and citation in the README
there). The table below says how to train on each — which column is the target and which
columns must not be features — and holds each file's sha256, checked on every load so a
built-in model is never trained on a silently changed file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from medmaas.data.dataset import TabularDataset, Task
from medmaas.data.readers import read_table
from medmaas.data.tabular import build_tabular_dataset
from medmaas.exceptions import IntegrityError, NotFoundError


@dataclass(frozen=True)
class BuiltinDataset:
    """How to train on one shipped CSV."""

    stem: str
    target: str
    task: Task
    sha256: str
    title: str
    licence: str
    drop: tuple[str, ...] = ()

    @property
    def filename(self) -> str:
        return f"{self.stem}.csv"


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    d.stem: d
    for d in (
        BuiltinDataset(
            stem="breast_cancer_wdbc",
            target="diagnosis",
            task="classification",
            sha256="af399a019264f7999e6b395ee90576e46564867aa4c8a40797c96be87dc1be55",
            title="Wisconsin Diagnostic Breast Cancer (WDBC)",
            licence="CC BY 4.0 (UCI); BSD-3-Clause (scikit-learn copy)",
        ),
        BuiltinDataset(
            stem="heart_failure",
            target="DEATH_EVENT",
            task="classification",
            sha256="7a0a6e89b06c0e2d8bba91f97df9ec490cc7a125e96a33193d332a413108c3ed",
            title="Heart failure clinical records",
            licence="CC BY 4.0",
            # Follow-up time ends at death, so it would leak the outcome into the model.
            drop=("time",),
        ),
        BuiltinDataset(
            stem="chronic_kidney_disease",
            target="class",
            task="classification",
            sha256="ce1d21b8b6af46fdc0ffb813ce3675bf7740b3d855861ea76271e71e818a70e4",
            title="Chronic kidney disease (UCI)",
            licence="CC BY 4.0",
        ),
        BuiltinDataset(
            stem="diabetes_progression",
            target="progression",
            task="regression",
            sha256="9193026b7622ff944f0a6855a10107b24caf50dad69787c46e6890e69c27faca",
            title="Diabetes disease progression (Efron et al. 2004)",
            licence="BSD-3-Clause",
        ),
    )
}


def builtin_dataset(stem: str) -> BuiltinDataset:
    """The description of a built-in dataset by its file stem.

    >>> builtin_dataset("heart_failure").drop
    ('time',)
    """
    try:
        return BUILTIN_DATASETS[stem]
    except KeyError:
        known = ", ".join(sorted(BUILTIN_DATASETS))
        raise NotFoundError(f"no built-in dataset '{stem}'; there are: {known}") from None


def builtin_data_file(stem: str) -> Traversable:
    """The packaged CSV of a built-in dataset (a Traversable; use ``read_bytes()`` or ``open``).

    >>> builtin_data_file("heart_failure").name
    'heart_failure.csv'
    """
    spec = builtin_dataset(stem)
    return resources.files("medmaas").joinpath("builtin", "data", spec.filename)


def load_builtin_dataset(stem: str, *, cv_folds: int = 5) -> TabularDataset:
    """Read, verify and validate a built-in dataset, ready for training.

    >>> ds = load_builtin_dataset("breast_cancer_wdbc")
    >>> ds.n_samples, ds.classes
    (569, ('benign', 'malignant'))
    """
    spec = builtin_dataset(stem)
    raw = builtin_data_file(stem).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise IntegrityError(
            f"built-in dataset '{stem}' has sha256 {digest}; expected {spec.sha256} "
            "(the packaged file was changed or damaged)"
        )
    frame = read_table(raw, name=spec.filename)
    return build_tabular_dataset(
        frame,
        spec.target,
        name=stem,
        source=f"medmaas built-in: {spec.title} ({spec.licence})",
        task=spec.task,
        cv_folds=cv_folds,
        drop=spec.drop,
    )
