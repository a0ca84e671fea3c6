"""Recordings as they arrive: a WFDB record (header + data files), EDF, or a CSV of samples
with a declared rate — each read into one ``Recording`` of physical values (mV), or refused
with a message that says what is wrong and where.

Reading goes through the maintained readers (wfdb, which also reads EDF); what is checked here
is what they accept silently: a data file shorter or longer than its header says, a missing
file, an unknown rate, a recording too long to answer in one request.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from medmaas.exceptions import InvalidInputError, PayloadTooLargeError

#: Longest recording answered in one request (a Holter day is sent in segments): two hours is
#: ~10,000 beats, a few seconds of work, and within the model queue's limit.
MAX_SECONDS = 2 * 3600
#: Most bytes an uploaded archive may unpack to.
MAX_UNPACKED_BYTES = 64 * 2**20
#: Bytes per sample of the WFDB storage formats, to check a data file against its header.
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0,
                     "212": 1.5, "310": 4 / 3, "311": 4 / 3}


@dataclass
class Recording:
    """Samples (n, leads) in physical units, the rate, the lead names and their units."""

    signals: np.ndarray
    fs: float
    leads: list[str]
    units: list[str]
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.signals.shape[0] / self.fs

    def lead(self, wanted: str | None, where: str) -> tuple[np.ndarray, str, list[str]]:
        """The lead named ``wanted`` (case-insensitive), else the first, with a note saying so."""
        names = [name.strip().upper() for name in self.leads]
        if wanted and wanted.upper() in names:
            i, notes = names.index(wanted.upper()), []
        else:
            i = 0
            notes = ([f"{where}: no lead {wanted!r} (leads: {', '.join(self.leads)}); the model read "
                      f"{self.leads[0]!r} instead, so its answers may be less reliable"] if wanted else [])
        unit = self.units[i].strip().lower() if i < len(self.units) else ""
        signal = self.signals[:, i].astype(np.float64)
        if unit in {"uv", "µv", "microvolt"}:
            signal = signal / 1000.0
        elif unit not in {"mv", "millivolt", ""}:
            raise InvalidInputError(f"{where}: lead {self.leads[i]!r} is in {self.units[i]!r}; an ECG model "
                                    "reads millivolts (mV or uV)")
        return signal, self.leads[i], notes


def check_duration(n_samples: int, fs: float, where: str) -> None:
    if n_samples / fs > MAX_SECONDS:
        raise PayloadTooLargeError(
            f"{where}: the recording lasts {n_samples / fs / 3600:.1f} h; one request takes at most "
            f"{MAX_SECONDS // 3600} h — send longer recordings in segments")


def read_upload(files: Mapping[str, bytes], *, sampling_rate: float | None = None) -> Recording:
    """One recording from the uploaded files, recognised by their names: a WFDB header (.hea)
    with its data files, an .edf file, a .csv of samples, or a .zip/.tar holding a record."""
    if not files:
        raise InvalidInputError("no file was uploaded")
    if len(files) == 1:
        (name, data), = files.items()
        lower = name.lower()
        if lower.endswith((".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz")):
            return read_upload(_unpack(data, name), sampling_rate=sampling_rate)
        if lower.endswith(".edf") or data[:8] == b"0       ":
            return read_edf(data, name or "the uploaded EDF file")
        if lower.endswith((".csv", ".txt")) or not lower:
            return read_csv(data, name or "the uploaded CSV", sampling_rate)
    headers = [n for n in files if n.lower().endswith(".hea")]
    if len(headers) != 1:
        raise InvalidInputError(
            "send one WFDB record (its .hea header and the data files it names), one .edf file, one "
            f".csv of samples, or one .zip of a record; got {', '.join(sorted(files)) or 'nothing'}")
    return read_wfdb(files, headers[0])


def read_wfdb(files: Mapping[str, bytes], header_name: str) -> Recording:
    """A WFDB record from its header and data files (names as the header gives them)."""
    import wfdb

    header = files[header_name].decode("latin-1")  # latin-1 decodes any byte
    declared = parse_header(header, header_name)
    if declared.fs and declared.n_samples:  # before anything is read: a 10-hour record is refused by its header
        check_duration(declared.n_samples, declared.fs, header_name)
    by_base = {Path(n).name: data for n, data in files.items()}
    for file_name, size in _expected_sizes(declared).items():
        if file_name not in by_base:
            raise InvalidInputError(f"{header_name} names the data file {file_name!r}, which was not uploaded; "
                                    "send the header together with its data files")
        got = len(by_base[file_name])
        if size is not None and got != size:
            held = "fewer" if got < size else "more"
            raise InvalidInputError(
                f"{file_name} holds {got} bytes but {header_name} declares {declared.n_samples} samples "
                f"({size} bytes): the data file has {held} samples than its header says")
    record_name = header.split()[0].split("/")[0]
    with tempfile.TemporaryDirectory(prefix="medmaas-wfdb-") as tmp:
        (Path(tmp) / f"{record_name}.hea").write_text(header, encoding="latin-1")
        for file_name in declared.formats:
            (Path(tmp) / Path(file_name).name).write_bytes(by_base[file_name])
        try:
            record = wfdb.rdrecord(str(Path(tmp) / record_name), physical=True)
        except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed records
            raise InvalidInputError(f"{header_name}: the WFDB record could not be read ({type(exc).__name__}: "
                                    f"{str(exc)[:200]})") from None
    if record.p_signal is None or record.p_signal.ndim != 2 or record.p_signal.shape[0] == 0:
        raise InvalidInputError(f"{header_name}: the record holds no samples")
    if not record.fs:
        raise InvalidInputError(f"{header_name}: the header gives no sampling rate")
    check_duration(record.p_signal.shape[0], float(record.fs), header_name)
    return Recording(signals=record.p_signal, fs=float(record.fs), leads=list(record.sig_name),
                     units=list(record.units or []), source="wfdb")


def read_edf(data: bytes, where: str) -> Recording:
    """An EDF recording through wfdb's EDF reader; all signals must share one rate."""
    from wfdb.io.convert.edf import read_edf as wfdb_read_edf

    with tempfile.TemporaryDirectory(prefix="medmaas-edf-") as tmp:
        path = Path(tmp) / "upload.edf"
        path.write_bytes(data)
        try:
            record = wfdb_read_edf(str(path))
        except Exception as exc:  # the EDF reader raises what its parser meets
            raise InvalidInputError(f"{where}: not a readable EDF file ({type(exc).__name__}: "
                                    f"{str(exc)[:200]})") from None
    signals = record.p_signal
    if signals is None or signals.size == 0:
        raise InvalidInputError(f"{where}: the EDF file holds no samples")
    check_duration(signals.shape[0], float(record.fs), where)
    return Recording(signals=signals, fs=float(record.fs), leads=list(record.sig_name),
                     units=list(record.units or []), source="edf")


def read_csv(data: bytes, where: str, sampling_rate: float | None) -> Recording:
    """A CSV with one column per lead (a header row names them) and, optionally, a ``time``
    column in seconds from which the rate is taken when ``sampling_rate`` is not given."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(data))
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InvalidInputError(f"{where}: not a readable CSV ({str(exc)[:200]})") from None
    if frame.empty:
        raise InvalidInputError(f"{where}: the CSV holds no samples")
    columns = {c.strip().lower(): c for c in frame.columns.astype(str)}
    time_column = next((columns[c] for c in ("time", "time_s", "seconds", "t") if c in columns), None)
    fs = sampling_rate
    if time_column is not None:
        times = pd.to_numeric(frame.pop(time_column), errors="coerce").to_numpy(dtype=np.float64)
        step = np.diff(times)
        if fs is None:
            if len(step) == 0 or not np.all(np.isfinite(step)) or step.min() <= 0:
                raise InvalidInputError(f"{where}: column {time_column!r} must rise steadily (seconds)")
            fs = 1.0 / float(np.median(step))
            if np.max(np.abs(step - 1 / fs)) > 0.1 / fs:
                raise InvalidInputError(f"{where}: the samples in {time_column!r} are not evenly spaced; a "
                                        "waveform needs one fixed rate")
    if fs is None:
        raise InvalidInputError(f"{where}: unknown sampling rate — pass sampling_rate (Hz) with the upload "
                                "or add a 'time' column in seconds")
    if not math.isfinite(fs) or fs <= 0:
        raise InvalidInputError(f"{where}: sampling rate must be a positive number of Hz; got {fs}")
    values = frame.apply(pd.to_numeric, errors="coerce")
    bad = frame.notna() & values.isna()
    if bad.to_numpy().any():
        row, col = np.argwhere(bad.to_numpy())[0]
        raise InvalidInputError(f"{where}: row {row + 2}, column {frame.columns[col]!r} is not a number")
    check_duration(len(values), fs, where)
    names = [str(c) for c in values.columns]
    units = ["uV" if re.search(r"\b(uv|µv)\b", n.lower()) else "mV" for n in names]
    return Recording(signals=values.to_numpy(dtype=np.float64), fs=float(fs), leads=names, units=units,
                     source="csv")


class Header(NamedTuple):
    """What a WFDB header declares: the rate, the samples per signal, and each data file's
    storage formats (one per signal it holds)."""

    fs: float | None
    n_samples: int
    formats: dict[str, list[str]]


def parse_header(header: str, where: str) -> Header:
    """The record line and signal lines of a WFDB header (comments skipped)."""
    lines = [line for line in header.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise InvalidInputError(f"{where}: the header is empty")
    fields = lines[0].split()
    try:
        n_signals = int(fields[1])
        n_samples = int(fields[3]) if len(fields) > 3 else 0
        fs = float(fields[2].split("/")[0].split("(")[0]) if len(fields) > 2 else None
    except (IndexError, ValueError):
        raise InvalidInputError(f"{where}: the record line must read 'name signals rate samples'; got "
                                f"{lines[0][:80]!r}") from None
    if len(lines) < 1 + n_signals:
        raise InvalidInputError(f"{where}: the header declares {n_signals} signals but describes {len(lines) - 1}")
    formats: dict[str, list[str]] = {}
    for line in lines[1:1 + n_signals]:
        parts = line.split()
        if len(parts) < 2:
            raise InvalidInputError(f"{where}: signal line {line[:80]!r} names no file and format")
        formats.setdefault(parts[0], []).append(parts[1])
    return Header(fs=fs, n_samples=n_samples, formats=formats)


def _expected_sizes(header: Header) -> dict[str, int | None]:
    """Each data file's expected size in bytes (None for formats not checked here)."""
    sizes: dict[str, int | None] = {}
    for file_name, formats in header.formats.items():
        base, _, offset = formats[0].partition("+")
        per_sample = _BYTES_PER_SAMPLE.get(base.split("x")[0].split(":")[0])
        if per_sample is None or header.n_samples == 0 or len(set(formats)) != 1:
            sizes[file_name] = None
            continue
        sizes[file_name] = int(offset or 0) + math.ceil(header.n_samples * len(formats) * per_sample)
    return sizes


def _check_unpacked_size(size: int, where: str) -> None:
    # A small archive can unpack to gigabytes; what it may hold is bounded before reading.
    if size > MAX_UNPACKED_BYTES:
        raise PayloadTooLargeError(f"{where}: unpacks to {size / 2**20:.0f} MiB; at most "
                                   f"{MAX_UNPACKED_BYTES // 2**20} MiB per recording")


def _unpack(data: bytes, where: str) -> dict[str, bytes]:
    """The regular files of a small archive, by base name (folders inside are ignored)."""
    import tarfile
    import zipfile

    files: dict[str, bytes] = {}
    try:
        if where.lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                _check_unpacked_size(sum(i.file_size for i in archive.infolist()), where)
                for info in archive.infolist():
                    if not info.is_dir():
                        files[Path(info.filename).name] = archive.read(info)
        else:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                members = archive.getmembers()
                _check_unpacked_size(sum(m.size for m in members), where)
                for member in members:
                    if member.isfile():
                        handle = archive.extractfile(member)
                        if handle is not None:
                            files[Path(member.name).name] = handle.read()
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidInputError(f"{where}: not a readable archive ({exc})") from None
    # annotation files (.atr, ...) travel with records; they are not needed for prediction
    return {n: d for n, d in files.items() if not n.startswith(".")}
