"""EDF (European Data Format) recordings: the header parsed and checked field by field against
the file's size before a sample is read, then the 16-bit samples scaled to physical values.

EDF is simple enough to read with numpy alone, and reading it here lets every declared number
be checked first: wfdb's EDF reader allocates what the header declares (a 300-byte file can ask
for terabytes), divides by a zero range, and reads signals of different rates at a rate none of
them has. EDF+ files are read when continuous (EDF+C); their annotation signal is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medmaas.exceptions import InvalidInputError

#: The fixed part of an EDF header; each signal adds 256 bytes.
FIXED_BYTES = 256
#: Most signals an EDF file may declare (a polysomnogram has a few dozen).
MAX_SIGNALS = 256
#: The label of an EDF+ annotation signal: text, not samples.
ANNOTATIONS = "EDF Annotations"
# Each per-signal field's name and width, in the order the header holds them.
_SIGNAL_FIELDS = (
    ("label", 16), ("transducer type", 80), ("physical dimension", 8), ("physical minimum", 8),
    ("physical maximum", 8), ("digital minimum", 8), ("digital maximum", 8), ("prefiltering", 80),
    ("samples per data record", 8), ("reserved", 32),
)  # fmt: skip


@dataclass(frozen=True)
class EdfHeader:
    """What an EDF header declares, checked for consistency; ``signals`` indexes the ones that
    hold samples (annotation signals are left out)."""

    header_bytes: int
    records: int
    record_seconds: float
    labels: list[str]
    units: list[str]
    physical: list[tuple[float, float]]
    digital: list[tuple[float, float]]
    samples: list[int]
    signals: list[int]

    @property
    def record_bytes(self) -> int:
        return 2 * sum(self.samples)

    @property
    def data_bytes(self) -> int:
        return self.records * self.record_bytes

    @property
    def fs(self) -> float:
        return self.samples[self.signals[0]] / self.record_seconds

    @property
    def n_samples(self) -> int:
        """Samples per signal in the whole recording."""
        return self.records * self.samples[self.signals[0]]


def parse_edf_header(data: bytes, where: str) -> EdfHeader:
    """The header of EDF ``data``, or InvalidInputError naming the field that is wrong.

    >>> parse_edf_header(b"0       " + b" " * 100, "x.edf")
    Traceback (most recent call last):
    ...
    medmaas.exceptions.InvalidInputError: x.edf: not a readable EDF file: truncated: the header needs at least 256 bytes; the file holds 108
    """
    if data[:8] != b"0       ":
        raise _refused(where, "it must start with '0' and seven spaces")
    if len(data) < FIXED_BYTES:
        raise _refused(where, f"truncated: the header needs at least {FIXED_BYTES} bytes; "
                       f"the file holds {len(data)}")
    header_bytes = _integer(data, 184, 8, "number of bytes in the header", where)
    if _text(data, 192, 44).startswith("EDF+D"):
        raise _refused(where, "an EDF+D file (interrupted recording); only continuous recordings "
                       "(EDF or EDF+C) are read")
    records = _integer(data, 236, 8, "number of data records", where)
    if records < 1:
        raise _refused(where, f"the header declares {records} data records; an EDF file to read "
                       "must say how many it holds (at least 1)")
    seconds = _number(data, 244, 8, "duration of a data record", where)
    if not seconds > 0:
        raise _refused(where, f"the duration of a data record must be a positive number of "
                       f"seconds; got {seconds:g}")
    n = _integer(data, 252, 4, "number of signals", where)
    if not 1 <= n <= MAX_SIGNALS:
        raise _refused(where, f"the header declares {n} signals; an EDF file to read holds 1 to "
                       f"{MAX_SIGNALS}")
    if header_bytes != FIXED_BYTES * (n + 1):
        raise _refused(where, f"the header declares {header_bytes} header bytes; {n} signals take "
                       f"{FIXED_BYTES * (n + 1)}")
    if len(data) < header_bytes:
        raise _refused(where, f"truncated: the header of {n} signals takes {header_bytes} "
                       f"bytes; the file holds {len(data)}")
    fields: dict[str, list[str]] = {}
    at = FIXED_BYTES
    for field, width in _SIGNAL_FIELDS:
        fields[field] = [_text(data, at + i * width, width) for i in range(n)]
        at += n * width
    labels = fields["label"]
    signals = [i for i in range(n) if labels[i] != ANNOTATIONS]
    if not signals:
        raise _refused(where, "it holds annotations only, no signal")

    def numbers(field: str, kind: type[int] | type[float] = float) -> list[float]:
        return [_parsed(text, f"{field} of signal {i + 1}", where, kind) for i, text in enumerate(fields[field])]

    physical = list(zip(numbers("physical minimum"), numbers("physical maximum"), strict=True))
    digital = list(zip(numbers("digital minimum"), numbers("digital maximum"), strict=True))
    samples = [int(count) for count in numbers("samples per data record", int)]
    for i in range(n):
        (low, high), (d_low, d_high) = physical[i], digital[i]
        if samples[i] < 1:
            raise _refused(where, f"signal {i + 1} ({labels[i]!r}) declares {samples[i]} samples per "
                           "data record; at least 1")
        # (the checks in this order: no division by an empty digital range)
        scalable = (low != high and -32768 <= d_low < d_high <= 32767
                    and math.isfinite((high - low) / (d_high - d_low)))
        if i in signals and not scalable:
            raise _refused(
                where, f"signal {i + 1} ({labels[i]!r}) cannot be scaled: its physical range {low:g}..{high:g} "
                f"must be finite and not empty, and its digital range {d_low:g}..{d_high:g} must rise within "
                "-32768..32767")
    rates = sorted({samples[i] for i in signals})
    if len(rates) > 1:
        listed = ", ".join(f"{r / seconds:g}" for r in rates)
        raise _refused(where, f"the signals are sampled at different rates ({listed} Hz); send the "
                       "ECG leads, which share one rate, in a file of their own")
    fs = rates[0] / seconds
    if not math.isfinite(fs):
        raise _refused(where, f"{rates[0]} samples per data record of {seconds:g} s is not a "
                       "sampling rate")
    units = [fields["physical dimension"][i].replace("µ", "u") for i in range(n)]
    return EdfHeader(header_bytes=header_bytes, records=records, record_seconds=seconds, labels=labels,
                     units=units, physical=physical, digital=digital, samples=samples, signals=signals)


def edf_samples(data: bytes, header: EdfHeader, where: str) -> np.ndarray:
    """The physical values (n, signals) of the signals ``header.signals``; the file must hold
    exactly the data records the header declares."""
    held = len(data) - header.header_bytes
    if held != header.data_bytes:
        what = "truncated: it" if held < header.data_bytes else "it"
        raise _refused(
            where, f"{what} holds {held} bytes of samples but the header declares {header.records} data "
            f"records of {header.record_bytes} bytes ({header.data_bytes})")
    records = np.frombuffer(data, dtype="<i2", offset=header.header_bytes).reshape(header.records, -1)
    starts = np.concatenate([[0], np.cumsum(header.samples)])
    columns = []
    for i in header.signals:
        digital = records[:, starts[i]:starts[i + 1]].reshape(-1).astype(np.float64)
        (low, high), (d_low, d_high) = header.physical[i], header.digital[i]
        columns.append((digital - d_low) * ((high - low) / (d_high - d_low)) + low)
    return np.stack(columns, axis=1)


def _refused(where: str, reason: str) -> InvalidInputError:
    return InvalidInputError(f"{where}: not a readable EDF file: {reason}")


def _text(data: bytes, start: int, width: int) -> str:
    # EDF headers are ASCII; latin-1 decodes any byte, so a stray one is seen, not fatal.
    return data[start:start + width].decode("latin-1").strip()


def _integer(data: bytes, start: int, width: int, field: str, where: str) -> int:
    return int(_parsed(_text(data, start, width), field, where, int))


def _number(data: bytes, start: int, width: int, field: str, where: str) -> float:
    return _parsed(_text(data, start, width), field, where, float)


def _parsed(text: str, field: str, where: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise _refused(where, f"the header's {field} must be {what}; got {text[:16]!r}") from None
    if not math.isfinite(value):
        raise _refused(where, f"the header's {field} must be a finite number; got {text[:16]!r}")
    return value
