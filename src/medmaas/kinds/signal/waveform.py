"""Recordings as they arrive: a WFDB record (header + data files), EDF, or a CSV of samples
with a declared rate — each read into one ``Recording`` of physical values (mV), or refused
with a message that says what is wrong and where.

WFDB records are read by wfdb; what is checked here first, from the header as wfdb parses it,
is what it accepts silently or pays for before it fails: a data file shorter or longer than its
header says, a missing file, an unknown rate, a recording too long or too big to answer in one
request. EDF files are read by ``edf`` (numpy only), which checks every header field first.
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

from medmaas.exceptions import InvalidInputError, MedmaasError, PayloadTooLargeError

#: Longest recording answered in one request (a Holter day is sent in segments): two hours is
#: ~10,000 beats, a few seconds of work, and within the model queue's limit.
MAX_SECONDS = 2 * 3600
#: Most values (samples x signals) one recording may hold, checked against its header before
#: anything is read: two hours of 12 leads at 500 Hz are 43 M (350 MB as float64).
MAX_VALUES = 48_000_000
#: Most bytes an uploaded archive may unpack to.
MAX_UNPACKED_BYTES = 64 * 2**20
#: Most entries an uploaded archive may hold (a record is a header and a few data files).
MAX_ARCHIVE_MEMBERS = 64
_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz")
#: The name the uploaded header is stored under for wfdb, whatever record name it gives.
_RECORD = "upload"
#: Bytes per sample of the WFDB storage formats, to check a data file against its header.
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0,
                     "212": 1.5, "310": 4 / 3, "311": 4 / 3}
#: The WFDB storage formats: the above, and FLAC-compressed 508, 516 and 524.
_FORMATS = (*_BYTES_PER_SAMPLE, "508", "516", "524")


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
        names = [str(name).strip().upper() for name in self.leads]
        if wanted and wanted.upper() in names:
            i, notes = names.index(wanted.upper()), []
        else:
            i = 0
            notes = ([f"{where}: no lead {wanted!r} (leads: {', '.join(map(str, self.leads))}); the model "
                      f"read {self.leads[0]!r} instead, so its answers may be less reliable"] if wanted else [])
        unit = str(self.units[i] or "").strip().lower() if i < len(self.units) else ""
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


def check_size(n_samples: int, n_signals: int, fs: float, where: str) -> None:
    """Refuse a recording by what it declares: an unusable rate, or more hours or values than
    one request takes (before a reader allocates them)."""
    if not math.isfinite(fs) or fs <= 0:
        raise InvalidInputError(f"{where}: the sampling rate must be a positive number of Hz; got {fs:g}")
    check_duration(n_samples, fs, where)
    if n_samples * n_signals > MAX_VALUES:
        raise PayloadTooLargeError(
            f"{where}: declares {n_signals} signal(s) of {n_samples:,} samples ({n_samples * n_signals:,} values); "
            f"one request takes at most {MAX_VALUES:,} — send fewer leads or a shorter segment")


def read_upload(files: Mapping[str, bytes], *, sampling_rate: float | None = None) -> Recording:
    """One recording from the uploaded files, recognised by their names: a WFDB header (.hea)
    with its data files, an .edf file, a .csv of samples, or a .zip/.tar holding a record."""
    if not files:
        raise InvalidInputError("no file was uploaded")
    if len(files) == 1:
        (name, data), = files.items()
        lower = name.lower()
        if lower.endswith(_ARCHIVES):
            unpacked = _unpack(data, name)
            nested = sorted(n for n in unpacked if n.lower().endswith(_ARCHIVES))
            if nested:  # one level only: an archive that holds itself would never end
                raise InvalidInputError(f"{name} holds another archive ({nested[0]}); put the record's files in "
                                        "the uploaded archive itself")
            if not unpacked:
                raise InvalidInputError(f"{name}: the archive holds no files")
            return read_upload(unpacked, sampling_rate=sampling_rate)
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

    # wfdb reads a header as ASCII and drops any other byte: reading it the same way here makes
    # the checks below see the very file names and numbers wfdb will act on.
    header = files[header_name].decode("ascii", errors="ignore")
    declared = parse_header(header, header_name)
    if declared.n_samples:  # before anything is read: a 10-hour record is refused by its header
        check_size(declared.n_samples, declared.values_per_sample, declared.fs, header_name)
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
    if not declared.n_samples:  # every signal gets as many samples as wfdb counts in the first file
        counted = _counted_samples(declared, by_base[declared.signals[0].file], header_name)
        check_size(counted, declared.values_per_sample, declared.fs, header_name)
    with tempfile.TemporaryDirectory(prefix="medmaas-wfdb-") as tmp:
        try:
            (Path(tmp) / f"{_RECORD}.hea").write_text(header, encoding="ascii")
            for file_name in declared.formats:
                (Path(tmp) / file_name).write_bytes(by_base[file_name])
        except OSError as exc:  # a name the file system refuses (too long, ...)
            raise InvalidInputError(f"{header_name}: its data files cannot be stored under the names it gives "
                                    f"({exc.strerror})") from None
        try:
            record = wfdb.rdrecord(str(Path(tmp) / _RECORD), physical=True)
        except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed records
            detail = str(exc).replace(f"{tmp}/", "")[:200]  # no path of this machine in the answer
            raise InvalidInputError(f"{header_name}: the WFDB record could not be read ({type(exc).__name__}: "
                                    f"{detail})") from None
    signals = record.p_signal
    if signals is None or signals.ndim != 2 or signals.shape[0] == 0 or signals.shape[1] == 0:
        raise InvalidInputError(f"{header_name}: the record holds no samples")
    check_size(signals.shape[0], signals.shape[1], float(record.fs), header_name)
    return Recording(signals=signals, fs=float(record.fs), leads=_names(record.sig_name, signals.shape[1]),
                     units=[str(u or "") for u in (record.units or [])], source="wfdb")


def read_edf(data: bytes, where: str) -> Recording:
    """An EDF recording (EDF+C too); all of its signals must share one rate."""
    from medmaas.kinds.signal.edf import edf_samples, parse_edf_header

    header = parse_edf_header(data, where)
    check_size(header.n_samples, len(header.signals), header.fs, where)
    signals = edf_samples(data, header, where)
    return Recording(signals=signals, fs=header.fs, leads=_names([header.labels[i] for i in header.signals],
                                                                  len(header.signals)),
                     units=[header.units[i] for i in header.signals], source="edf")


def _names(names: list[str] | None, n: int) -> list[str]:
    """Lead names; a signal without one is called by its number."""
    given = list(names or [])
    return [str(given[i]).strip() if i < len(given) and str(given[i] or "").strip() else f"signal {i + 1}"
            for i in range(n)]


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
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: refused as not rising below
            step = np.diff(times)
        if fs is None:
            if len(step) == 0 or not np.all(np.isfinite(step)) or step.min() <= 0:
                raise InvalidInputError(f"{where}: column {time_column!r} must rise steadily (seconds)")
            fs = 1.0 / float(np.median(step))
            if np.max(np.abs(step - 1 / fs)) > 0.1 / fs:
                raise InvalidInputError(f"{where}: the samples in {time_column!r} are not evenly spaced; a "
                                        "waveform needs one fixed rate")
        if frame.shape[1] == 0:
            raise InvalidInputError(f"{where}: the CSV holds the time column {time_column!r} and no lead; add "
                                    "one column of samples per lead")
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
    check_size(len(values), values.shape[1], fs, where)
    names = [str(c) for c in values.columns]
    units = ["uV" if re.search(r"\b(uv|µv)\b", n.lower()) else "mV" for n in names]
    return Recording(signals=values.to_numpy(dtype=np.float64), fs=float(fs), leads=names, units=units,
                     source="csv")


class Signal(NamedTuple):
    """One signal line of a WFDB header: its data file, storage format, samples per frame and
    the byte offset of its samples in the file."""

    file: str
    format: str
    samples_per_frame: int
    byte_offset: int


class Header(NamedTuple):
    """What a WFDB header declares: the rate, the samples per signal (0: not given; wfdb counts
    them from the first data file) and the signals."""

    fs: float
    n_samples: int
    signals: tuple[Signal, ...]

    @property
    def formats(self) -> dict[str, list[str]]:
        """Each data file's storage formats, one per signal it holds."""
        formats: dict[str, list[str]] = {}
        for signal in self.signals:
            formats.setdefault(signal.file, []).append(signal.format)
        return formats

    @property
    def values_per_sample(self) -> int:
        """Values read per sample time: one per signal, more for signals of several samples per frame."""
        return sum(signal.samples_per_frame for signal in self.signals)


#: WFDB's default rate, used when a header gives none.
DEFAULT_RATE = 250.0


def parse_header(header: str, where: str) -> Header:
    """The record line and signal lines of a WFDB header, parsed with wfdb's own patterns (so
    the names and numbers checked are those wfdb reads), comments skipped.

    >>> h = parse_header("rec 2 360 650000\\nrec.dat 212 200 11 1024 995\\nrec.dat 212 200 11 1024 1011", "rec.hea")
    >>> h.fs, h.n_samples, h.formats
    (360.0, 650000, {'rec.dat': ['212', '212']})
    """
    from wfdb.io.header import parse_header_content, rx_record, rx_signal

    lines, _ = parse_header_content(header)
    if not lines:
        raise InvalidInputError(f"{where}: the header is empty")
    record = rx_record.match(lines[0])
    if record is None:
        raise InvalidInputError(f"{where}: the record line must read 'name signals rate samples'; got "
                                f"{lines[0][:80]!r}")
    if record["n_seg"]:
        raise InvalidInputError(f"{where}: a multi-segment record ({record['n_seg']} segments) is not read; send "
                                "one segment's header and data files")
    n_signals = int(record["n_sig"])
    try:
        fs = float(record["fs"]) if record["fs"] else DEFAULT_RATE
    except ValueError:
        raise InvalidInputError(f"{where}: the record line's sampling rate {record['fs']!r} is not a number") from None
    n_samples = int(record["sig_len"] or 0)
    if n_signals == 0:
        raise InvalidInputError(f"{where}: the header declares no signal")
    if len(lines) - 1 != n_signals:
        raise InvalidInputError(f"{where}: the header declares {n_signals} signals but describes {len(lines) - 1}")
    signals = []
    for line in lines[1:]:
        match = rx_signal.match(line)
        if match is None:
            raise InvalidInputError(f"{where}: signal line {line[:80]!r} must start with a data file name and a "
                                    "storage format")
        signal = Signal(file=match["file_name"], format=match["fmt"],
                        samples_per_frame=int(match["samps_per_frame"] or 1),
                        byte_offset=int(match["byte_offset"] or 0))
        if signal.format not in _FORMATS:
            raise InvalidInputError(f"{where}: signal line {line[:80]!r} gives storage format {signal.format}; WFDB "
                                    f"formats are {', '.join(_FORMATS)}")
        if signal.samples_per_frame < 1:
            raise InvalidInputError(f"{where}: signal line {line[:80]!r} declares 0 samples per frame; at least 1")
        signals.append(signal)
    return Header(fs=fs, n_samples=n_samples, signals=tuple(signals))


def _expected_sizes(header: Header) -> dict[str, int | None]:
    """Each data file's expected size in bytes (None for formats not checked here)."""
    sizes: dict[str, int | None] = {}
    for file_name in header.formats:
        signals = [s for s in header.signals if s.file == file_name]
        per_sample = _BYTES_PER_SAMPLE.get(signals[0].format)
        if per_sample is None or header.n_samples == 0 or len({s.format for s in signals}) != 1:
            sizes[file_name] = None
            continue
        frame = sum(s.samples_per_frame for s in signals)
        sizes[file_name] = signals[0].byte_offset + math.ceil(header.n_samples * frame * per_sample)
    return sizes


def _counted_samples(header: Header, data: bytes, where: str) -> int:
    """The samples per signal wfdb counts in the first data file when the header gives none."""
    first = header.signals[0]
    per_sample = _BYTES_PER_SAMPLE.get(first.format)
    if per_sample is None:
        raise InvalidInputError(f"{where}: the header gives no number of samples, and in storage format "
                                f"{first.format} the data file's size does not tell it; add the number of samples "
                                "to the record line")
    frame = sum(s.samples_per_frame for s in header.signals if s.file == first.file)
    return int(max(0, len(data) - first.byte_offset) / (per_sample * frame))


def _check_unpacked_size(size: int, where: str) -> None:
    # A small archive can unpack to gigabytes; what it may hold is bounded before reading.
    if size > MAX_UNPACKED_BYTES:
        raise PayloadTooLargeError(f"{where}: unpacks to {size / 2**20:.0f} MiB; at most "
                                   f"{MAX_UNPACKED_BYTES // 2**20} MiB per recording")


def _check_members(count: int, where: str) -> None:
    # Entries cost memory even when empty: a compressed archive of empty entries is a bomb too.
    if count > MAX_ARCHIVE_MEMBERS:
        raise PayloadTooLargeError(f"{where}: holds more than {MAX_ARCHIVE_MEMBERS} entries; a recording is a "
                                   "header and a few data files")


def _unpack(data: bytes, where: str) -> dict[str, bytes]:
    """The regular files of a small archive, by base name (folders inside are ignored)."""
    import lzma
    import tarfile
    import zipfile
    import zlib

    files: dict[str, bytes] = {}
    try:
        if where.lower().endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                infos = archive.infolist()
                _check_members(len(infos), where)
                _check_unpacked_size(sum(i.file_size for i in infos), where)
                for info in infos:
                    if not info.is_dir():
                        files[Path(info.filename).name] = archive.read(info)
        else:
            with tarfile.open(fileobj=io.BytesIO(data)) as archive:
                members = []
                for member in archive:  # one by one, so the entry limit stops a bomb early
                    members.append(member)
                    _check_members(len(members), where)
                _check_unpacked_size(sum(m.size for m in members if m.isfile()), where)
                for member in members:
                    if member.isfile():
                        handle = archive.extractfile(member)
                        if handle is not None:
                            files[Path(member.name).name] = handle.read()
    except MedmaasError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError, zlib.error, lzma.LZMAError,
            NotImplementedError, RuntimeError) as exc:
        # Besides their own errors, zipfile and tarfile pass on their decompressors' (zlib, lzma,
        # bz2), NotImplementedError for unknown compression methods and RuntimeError for
        # encrypted members.
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"{where}: not a readable archive ({detail})") from None
    # annotation files (.atr, ...) travel with records; they are not needed for prediction
    return {n: d for n, d in files.items() if not n.startswith(".")}
