"""What the models read, computed from a stay's measurements with numpy alone, so training and
serving share one definition and a server needs no training stack.

Per stay, for the first ``hours`` hours binned hourly (Che et al. 2018, GRU-D):
- ``values`` (hours × variables): the last value measured in each hour, clipped to the training
  0.5-99.5 percentiles (charting errors such as a pH of 735 or a temperature of -17.8 °C would
  otherwise dominate) and standardised with the training mean and deviation; carried forward
  into hours without a measurement, 0 (the training mean) before the first one;
- ``mask``: 1 where the variable was measured in that hour;
- ``delta``: hours from the last measurement to the end of the hour (from admission when there
  was none yet), divided by the window, so 1.0 means "never measured";
- ``statics``: age, height and weight standardised (0 when unknown) with a "recorded" flag each,
  male and gender-recorded flags, the ICU type one-hot.

Gradient boosting reads per-stay summaries instead: per variable the first, last, lowest,
highest and mean standardised value and the number of measurements, plus the statics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from medmaas.kinds.timeseries.physionet import STATICS

#: What a variable's summaries hold when it was never measured: far outside any standardised
#: value (those are clipped to the training percentiles), so a tree can split it off by itself.
NOT_MEASURED = -100.0
SUMMARIES = ("first", "last", "min", "max", "mean", "count")
#: Statics that are numbers, standardised; Gender and ICUType are categories.
CONTINUOUS_STATICS = ("Age", "Height", "Weight")
ICU_NAMES = ("coronary_care", "cardiac_surgery_recovery", "medical", "surgical")
STATIC_FEATURES = ("age", "age_recorded", "height", "height_recorded", "weight", "weight_recorded",
                   "male", "gender_recorded", *(f"icu_{name}" for name in ICU_NAMES))
PERCENTILES = (0.5, 99.5)
#: Stays per block when building grids: 1,024 stays × 48 h × 37 variables is ~15 MB per array.
BLOCK = 1024


@dataclass(frozen=True)
class Scaling:
    """Clip limits, means and deviations learned from the training stays (spec.json carries them)."""

    variables: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    static_low: np.ndarray
    static_high: np.ndarray
    static_mean: np.ndarray
    static_std: np.ndarray
    hours: int

    def as_json(self) -> dict[str, Any]:
        def listed(a: np.ndarray) -> list[float]:
            return [float(v) for v in a]

        return {"variables": list(self.variables), "hours": self.hours,
                "clip_low": listed(self.low), "clip_high": listed(self.high),
                "mean": listed(self.mean), "std": listed(self.std),
                "statics": {name: {"clip_low": float(lo), "clip_high": float(hi), "mean": float(m), "std": float(s)}
                            for name, lo, hi, m, s in zip(CONTINUOUS_STATICS, self.static_low, self.static_high,
                                                          self.static_mean, self.static_std, strict=True)}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scaling:
        statics = [data["statics"][name] for name in CONTINUOUS_STATICS]

        def column(key: str) -> np.ndarray:
            return np.array([s[key] for s in statics], dtype=np.float64)

        return cls(variables=tuple(data["variables"]), hours=int(data["hours"]),
                   low=np.array(data["clip_low"], dtype=np.float64), high=np.array(data["clip_high"], dtype=np.float64),
                   mean=np.array(data["mean"], dtype=np.float64), std=np.array(data["std"], dtype=np.float64),
                   static_low=column("clip_low"), static_high=column("clip_high"),
                   static_mean=column("mean"), static_std=column("std"))

    @property
    def n_variables(self) -> int:
        return len(self.variables)


def fit_scaling(variable_names: tuple[str, ...], variables: np.ndarray, values: np.ndarray,
                statics: np.ndarray, hours: int) -> Scaling:
    """Percentile clip limits, then mean and deviation of the clipped values, per variable."""
    k = len(variable_names)
    low, high, mean, std = np.zeros(k), np.zeros(k), np.zeros(k), np.ones(k)
    for i in range(k):
        low[i], high[i], mean[i], std[i] = _robust(values[variables == i])
    parts = [_robust(statics[:, STATICS.index(name)]) for name in CONTINUOUS_STATICS]
    s_low, s_high, s_mean, s_std = (np.array(column) for column in zip(*parts, strict=True))
    return Scaling(variables=variable_names, low=low, high=high, mean=mean, std=std, static_low=s_low,
                   static_high=s_high, static_mean=s_mean, static_std=s_std, hours=hours)


def _robust(x: np.ndarray) -> tuple[float, float, float, float]:
    x = x[np.isfinite(x)]
    if len(x) == 0:  # a variable never measured in training: its values pass as they are
        return 0.0, 0.0, 0.0, 1.0
    lo, hi = np.percentile(x, PERCENTILES)
    clipped = np.clip(x, lo, hi)
    sd = float(clipped.std())
    return float(lo), float(hi), float(clipped.mean()), sd if sd > 1e-12 else 1.0


def standardise(scaling: Scaling, variables: np.ndarray, values: np.ndarray) -> np.ndarray:
    clipped = np.clip(values, scaling.low[variables], scaling.high[variables])
    # A variable never measured in training has low == high == 0: leave its values unclipped.
    clipped = np.where(scaling.low[variables] == scaling.high[variables], values, clipped)
    return (clipped - scaling.mean[variables]) / scaling.std[variables]


def hourly_grid(scaling: Scaling, offsets: np.ndarray, times: np.ndarray, variables: np.ndarray,
                values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, mask, delta), each float32 (stays, hours, variables); see the module docstring."""
    n = len(offsets) - 1
    parts = [_grid_block(scaling, offsets[a:min(a + BLOCK, n) + 1] - offsets[a],
                         *(x[offsets[a]:offsets[min(a + BLOCK, n)]] for x in (times, variables, values)))
             for a in range(0, n, BLOCK)]
    if not parts:
        empty = np.zeros((0, scaling.hours, scaling.n_variables), np.float32)
        return empty, empty.copy(), empty.copy()
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def _grid_block(scaling: Scaling, offsets: np.ndarray, times: np.ndarray, variables: np.ndarray,
                values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, hours, k = len(offsets) - 1, scaling.hours, scaling.n_variables
    owner = np.repeat(np.arange(n), np.diff(offsets))
    hour = np.clip(np.floor(times), 0, hours - 1).astype(np.int64)  # 48:00 belongs to the last hour
    cell = (owner * hours + hour) * k + variables
    order = np.lexsort((times, cell))  # by cell, then by time; lexsort is stable, so ties keep row order
    cell_sorted = cell[order]
    last = np.r_[cell_sorted[1:] != cell_sorted[:-1], True] if len(cell) else np.zeros(0, bool)
    where = cell_sorted[last]
    grid = np.zeros(n * hours * k)
    stamp = np.zeros(n * hours * k)
    mask = np.zeros(n * hours * k, dtype=np.float32)
    grid[where] = standardise(scaling, variables[order][last], values[order][last])
    stamp[where] = times[order][last]
    mask[where] = 1.0
    grid3, stamp3, mask3 = (a.reshape(n, hours, k) for a in (grid, stamp, mask))
    # Carry the last measured hour forward: the running maximum of "this hour, if measured".
    source = np.maximum.accumulate(np.where(mask3 > 0, np.arange(hours)[None, :, None], -1), axis=1)
    seen = source >= 0
    source = np.where(seen, source, 0)
    filled = np.where(seen, np.take_along_axis(grid3, source, axis=1), 0.0)
    end = np.arange(1, hours + 1, dtype=np.float64)[None, :, None]
    delta = np.where(seen, end - np.take_along_axis(stamp3, source, axis=1), end) / hours
    return filled.astype(np.float32), mask3, delta.astype(np.float32)


def static_vector(scaling: Scaling, statics: np.ndarray) -> np.ndarray:
    """(stays, len(STATIC_FEATURES)) float32 from raw descriptors in STATICS order (NaN unknown)."""
    statics = np.asarray(statics, dtype=np.float64).reshape(-1, len(STATICS))
    columns = []
    for j, name in enumerate(CONTINUOUS_STATICS):
        raw = statics[:, STATICS.index(name)]
        known = np.isfinite(raw) & (raw > 0)  # a height or weight of 0 is a missing value
        z = (np.clip(raw, scaling.static_low[j], scaling.static_high[j]) - scaling.static_mean[j]) / scaling.static_std[j]
        columns += [np.where(known, z, 0.0), known.astype(np.float64)]
    gender = statics[:, STATICS.index("Gender")]
    columns += [(gender == 1).astype(np.float64), np.isin(gender, (0, 1)).astype(np.float64)]
    icu = statics[:, STATICS.index("ICUType")]
    columns += [(icu == code).astype(np.float64) for code in range(1, len(ICU_NAMES) + 1)]
    return np.stack(columns, axis=1).astype(np.float32)


def summaries(scaling: Scaling, offsets: np.ndarray, times: np.ndarray, variables: np.ndarray,
              values: np.ndarray) -> np.ndarray:
    """(stays, variables × len(SUMMARIES)) float32: per variable first, last, min, max, mean, count."""
    n, k = len(offsets) - 1, scaling.n_variables
    out = np.full((n * k, len(SUMMARIES)), NOT_MEASURED)
    out[:, -1] = 0.0
    if len(times):
        owner = np.repeat(np.arange(n), np.diff(offsets))
        key = owner * k + variables
        order = np.lexsort((times, key))
        keys = key[order]
        z = standardise(scaling, variables[order], values[order])
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        ends = np.r_[starts[1:], len(keys)]
        which = keys[starts]
        out[which, 0] = z[starts]
        out[which, 1] = z[ends - 1]
        out[which, 2] = np.minimum.reduceat(z, starts)
        out[which, 3] = np.maximum.reduceat(z, starts)
        out[which, 4] = np.add.reduceat(z, starts) / (ends - starts)
        out[which, 5] = ends - starts
    return out.reshape(n, k * len(SUMMARIES)).astype(np.float32)


def summary_names(scaling: Scaling) -> list[str]:
    return [f"{v}_{s}" for v in scaling.variables for s in SUMMARIES]


def stay_features(scaling: Scaling, offsets: np.ndarray, times: np.ndarray, variables: np.ndarray,
                  values: np.ndarray, statics: np.ndarray) -> np.ndarray:
    """Gradient boosting's input: the summaries then the static vector, float32."""
    return np.concatenate([summaries(scaling, offsets, times, variables, values),
                           static_vector(scaling, statics)], axis=1)


def feature_names(scaling: Scaling) -> list[str]:
    return [*summary_names(scaling), *STATIC_FEATURES]
