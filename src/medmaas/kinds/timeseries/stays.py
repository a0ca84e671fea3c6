"""One stay's rows (time, parameter, value) to arrays, validated the same way for training files
and prediction requests: numpy only, so the serving side uses it as it is.

A row is a static descriptor (age, gender, ...), a measurement of a known variable, or
something the model cannot use: an unknown parameter, a missing-value sentinel, a time after
the window. Those are counted, not fatal, and reported as warnings; a time that is not a
number or is negative, or a value that is not a number, is an error naming the stay and row.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medmaas.exceptions import InvalidInputError
from medmaas.kinds.timeseries.physionet import IDENTIFIERS, MISSING_VALUE, STATICS

#: "HH:MM" (hours may pass 24: 47:30 is the 48th hour), optionally ":SS"; a leading "-" is read
#: so that a negative time is refused as negative, not as unreadable.
_CLOCK = re.compile(r"(-?)(\d{1,4}):([0-5]\d)(?::([0-5]\d))?")
TIME_UNITS = ("hours", "minutes")


def parse_time(raw: Any, unit: str = "hours") -> float:
    """Hours since admission from "HH:MM" or a number in ``unit``; NaN when unreadable.

    >>> parse_time("01:30"), parse_time(90, "minutes"), parse_time("2.5")
    (1.5, 1.5, 2.5)
    """
    if isinstance(raw, bool) or raw is None:
        return math.nan
    if isinstance(raw, str):
        text = raw.strip()
        match = _CLOCK.fullmatch(text)
        if match:
            sign, hours, minutes, seconds = match.groups()
            value = int(hours) + int(minutes) / 60 + int(seconds or 0) / 3600
            return -value if sign else value
        try:
            number = float(text)
        except ValueError:
            return math.nan
    elif isinstance(raw, int | float | np.integer | np.floating):
        number = float(raw)
    else:
        return math.nan
    return number / 60.0 if unit == "minutes" else number


def parse_value(raw: Any) -> float:
    """A measured value as a float; NaN when it is not a number (booleans are not numbers)."""
    if isinstance(raw, bool) or raw is None:
        return math.nan
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


class Vocabulary:
    """The variables a model reads, matched without regard to case ("hr" is HR)."""

    def __init__(self, variables: Sequence[str]) -> None:
        self.variables = tuple(variables)
        self._index = {name.lower(): i for i, name in enumerate(self.variables)}
        self._static = {name.lower(): name for name in STATICS}
        self._ignored = {name.lower() for name in IDENTIFIERS}

    def __len__(self) -> int:
        return len(self.variables)

    def index(self, name: str) -> int | None:
        return self._index.get(name.strip().lower())

    def static(self, name: str) -> str | None:
        return self._static.get(name.strip().lower())

    def ignored(self, name: str) -> bool:
        return name.strip().lower() in self._ignored


def measurable(names: Sequence[str]) -> list[str]:
    """The names that can be time-varying variables: not an identifier, and not a descriptor
    that is only ever static (Weight is both, so it stays)."""
    only_static = {n.lower() for n in STATICS if n != "Weight"} | {n.lower() for n in IDENTIFIERS}
    return [n.strip() for n in names if n.strip() and n.strip().lower() not in only_static]


@dataclass
class Stay:
    """One stay: measurements in the window (hours since admission, variable index, raw value)
    and the static descriptors in ``STATICS`` order (NaN where not recorded)."""

    times: np.ndarray
    variables: np.ndarray
    values: np.ndarray
    statics: np.ndarray

    @property
    def n_measurements(self) -> int:
        return len(self.times)


@dataclass
class StayNotes:
    """What was left out of a stay, and why."""

    unknown: Counter[str] = field(default_factory=Counter)
    after_window: int = 0
    missing: int = 0

    def add(self, other: StayNotes) -> None:
        self.unknown.update(other.unknown)
        self.after_window += other.after_window
        self.missing += other.missing

    def messages(self, window_hours: int, *, stays: str = "") -> list[str]:
        out = []
        if self.unknown:
            names = ", ".join(f"{n} ({c})" for n, c in self.unknown.most_common(10))
            more = f" and {len(self.unknown) - 10} more" if len(self.unknown) > 10 else ""
            out.append(f"{sum(self.unknown.values())} rows{stays} of parameters the model does not know were "
                       f"ignored: {names}{more}")
        if self.after_window:
            out.append(f"{self.after_window} measurements{stays} after hour {window_hours} were ignored: "
                       f"the model reads the first {window_hours} hours of a stay")
        return out


class StayBuilder:
    """Collects one stay's rows; ``error`` is the exception class for rows that cannot be read
    (DataError for training files, SchemaError for requests)."""

    def __init__(self, vocabulary: Vocabulary, *, window_hours: float, where: str,
                 error: type[InvalidInputError] = InvalidInputError,
                 missing_value: float | None = MISSING_VALUE, weight_at_zero_is_static: bool = True) -> None:
        self.vocabulary = vocabulary
        # A request that sends its descriptors apart ("statics") means every Weight row as a
        # measurement; a PhysioNet file means its first 00:00 Weight as the admission weight.
        self.weight_at_zero_is_static = weight_at_zero_is_static
        self.window_hours = window_hours
        self.where = where
        self.error = error
        self.missing_value = missing_value
        self.notes = StayNotes()
        self._times: list[float] = []
        self._variables: list[int] = []
        self._values: list[float] = []
        self._statics = np.full(len(STATICS), np.nan)
        self._static_seen: set[str] = set()

    def add(self, row: str, raw_time: Any, parameter: Any, raw_value: Any, *, time_unit: str = "hours") -> None:
        """One row; ``row`` names it in messages ("row 17", "measurement 3")."""
        if not isinstance(parameter, str) or not parameter.strip():
            raise self.error(f"{self.where}, {row}: the parameter must be a non-empty name; got {parameter!r}")
        if self.vocabulary.ignored(parameter):
            return
        time = parse_time(raw_time, time_unit)
        if not math.isfinite(time):
            raise self.error(f"{self.where}, {row}: time {raw_time!r} is not a time; send \"HH:MM\" since "
                             f"admission or a number of {time_unit}")
        if time < 0:
            raise self.error(f"{self.where}, {row}: time {raw_time!r} is before admission; times count "
                             "from admission and must not be negative")
        value = parse_value(raw_value)
        if not math.isfinite(value):
            raise self.error(f"{self.where}, {row}: the value of {parameter.strip()} must be a finite number; "
                             f"got {raw_value!r}")
        static = self.vocabulary.static(parameter)
        # Weight is a descriptor the first time it appears at 00:00, a measurement afterwards.
        first_weight = self.weight_at_zero_is_static and time == 0 and static not in self._static_seen
        if static is not None and (static != "Weight" or first_weight or self.vocabulary.index(static) is None):
            self._static_seen.add(static)
            if value != self.missing_value:
                self._statics[STATICS.index(static)] = value
            return
        if self.missing_value is not None and value == self.missing_value:
            self.notes.missing += 1
            return
        index = self.vocabulary.index(parameter)
        if index is None:
            self.notes.unknown[parameter.strip()] += 1
            return
        if time > self.window_hours:
            self.notes.after_window += 1
            return
        self._times.append(time)
        self._variables.append(index)
        self._values.append(value)

    def set_static(self, name: str, value: float) -> None:
        """A descriptor given apart from the rows (a request's "statics" object); NaN = unknown."""
        self._statics[STATICS.index(name)] = value

    def build(self) -> Stay:
        times = np.asarray(self._times, dtype=np.float64)
        # Stable order by time: the last value of an hour is the one read, so ties keep row order.
        order = np.argsort(times, kind="stable")
        return Stay(times=times[order], variables=np.asarray(self._variables, dtype=np.int32)[order],
                    values=np.asarray(self._values, dtype=np.float64)[order], statics=self._statics.copy())
