"""Small synthetic ICU stays for the timeseries kind's tests: irregular measurements of a few
PhysioNet 2012 variables whose levels and trends carry the outcome, plus static descriptors."""

from __future__ import annotations

import numpy as np

from medmaas.data.dataset import Dataset
from medmaas.kinds.timeseries.dataset import TimeSeriesDataset, from_stays
from medmaas.kinds.timeseries.physionet import CLASSES, STATICS, TARGET
from medmaas.kinds.timeseries.stays import Stay

VARIABLES = ("GCS", "HR", "Lactate", "MAP", "Temp", "Urine")


def stay_rows(rng: np.random.Generator, died: bool) -> list[tuple[float, str, float]]:
    """(hours, parameter, value) of one stay: hourly-ish vitals, sparse labs, a worsening trend
    for those who die."""
    rows = []
    for t in np.sort(rng.uniform(0, 48, rng.integers(20, 40))):
        drift = t / 48 if died else 0.0
        rows.append((float(t), "HR", float(rng.normal(80 + 25 * drift, 8))))
        if rng.random() < 0.6:
            rows.append((float(t), "MAP", float(rng.normal(80 - 15 * drift, 6))))
        if rng.random() < 0.4:
            rows.append((float(t), "Urine", float(max(0.0, rng.normal(80 - 40 * drift, 20)))))
        if rng.random() < 0.3:
            rows.append((float(t), "Temp", float(rng.normal(37.0, 0.5))))
    for t in rng.uniform(0, 48, rng.integers(2, 5)):
        rows.append((float(t), "Lactate", float(rng.normal(3.5 if died else 1.4, 0.6))))
        rows.append((float(t), "GCS", float(np.clip(np.round(rng.normal(9 if died else 14, 2)), 3, 15))))
    return rows


def stay_statics(rng: np.random.Generator, died: bool) -> np.ndarray:
    statics = np.full(len(STATICS), np.nan)
    statics[STATICS.index("Age")] = rng.normal(72 if died else 60, 10)
    statics[STATICS.index("Gender")] = rng.integers(0, 2)
    statics[STATICS.index("Height")] = rng.normal(170, 10) if rng.random() < 0.6 else np.nan
    statics[STATICS.index("Weight")] = rng.normal(80, 15)
    statics[STATICS.index("ICUType")] = rng.integers(1, 5)
    return statics


def timeseries_dataset(n: int = 120, seed: int = 0, death_share: float = 0.3) -> TimeSeriesDataset:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % round(1 / death_share) == 0).astype(np.int64)
    index = {name: i for i, name in enumerate(VARIABLES)}
    stays = []
    for died in y:
        rows = sorted(stay_rows(rng, bool(died)))
        stays.append(Stay(times=np.array([r[0] for r in rows]), variables=np.array([index[r[1]] for r in rows],
                                                                                   dtype=np.int32),
                          values=np.array([r[2] for r in rows]), statics=stay_statics(rng, bool(died))))
    return from_stays(stays, y, variable_names=VARIABLES, name="icu", source="synthetic", target=TARGET,
                      classes=CLASSES, stay_ids=[str(100000 + i) for i in range(n)])


def _timeseries_examples() -> list[tuple[str, Dataset, dict]]:
    """Conformance cases: one per candidate, each fitting in a few seconds."""
    return [
        ("gru", timeseries_dataset(n=120, seed=0), {"candidates": ["gru"], "epochs": 3, "hidden": 16}),
        ("gradient-boosting", timeseries_dataset(n=120, seed=1), {"candidates": ["gradient-boosting"], "trees": 30}),
        ("ensemble", timeseries_dataset(n=120, seed=2), {"candidates": ["ensemble"], "epochs": 3, "hidden": 16,
                                                         "trees": 30}),
    ]
