"""Training sources of the timeseries kind.

- The PhysioNet/CinC 2012 layout: one ``<RecordID>.txt`` per stay (``Time,Parameter,Value``,
  times "HH:MM" since ICU admission, static descriptors at 00:00 first, -1 = missing) and an
  outcomes file (``RecordID,...,In-hospital_death``), as the challenge's .tar.gz or a folder.
- A long table (CSV): one row per measurement with a stay id, a time, a parameter and a value,
  and the outcome either as a column of that table or in a separate CSV keyed by the stay id.
  Times are "HH:MM" or numbers in ``time_unit`` ("hours" or "minutes").

Archives are read member by member without extracting anything: a member's name never
becomes a path on this machine.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.exceptions import DataError, InvalidInputError
from medmaas.kinds.base import Progress, no_progress
from medmaas.kinds.timeseries.dataset import TimeSeriesDataset, from_stays
from medmaas.kinds.timeseries.physionet import (
    CLASSES,
    MISSING_VALUE,
    TARGET,
    VARIABLES,
    WINDOW_HOURS,
)
from medmaas.kinds.timeseries.stays import (
    TIME_UNITS,
    Stay,
    StayBuilder,
    StayNotes,
    Vocabulary,
    measurable,
)

MIN_PER_CLASS = 5
#: a PhysioNet stay file is ~10 KB; anything this big is not one stay's 48 hours
MAX_STAY_FILE_BYTES = 5 * 1024 * 1024
STAY_HEADER = ("time", "parameter", "value")
STAY_COLUMNS = ("stay_id", "recordid", "stay", "id")


def read_timeseries_dataset(source: Path, *, name: str, target: str = TARGET, outcomes: Path | None = None,
                            parameters: Sequence[str] | None = None, time_unit: str = "hours",
                            stay_column: str | None = None, window_hours: int = WINDOW_HOURS,
                            missing_value: float | None = MISSING_VALUE, class_names: Sequence[str] | None = None,
                            max_stays: int | None = None, progress: Progress = no_progress) -> TimeSeriesDataset:
    """Read stays and their outcome into a dataset.

    ``parameters``: the variables to keep (default: the 37 of PhysioNet 2012 for per-stay files,
    every parameter of the table for a long table); others are ignored with a warning.
    ``max_stays`` keeps the first stays by id (quick experiments). Stays without an outcome
    are left out with a warning.
    """
    source = Path(source)
    if time_unit not in TIME_UNITS:
        raise InvalidInputError(f"time_unit must be one of {', '.join(TIME_UNITS)}; got {time_unit!r}")
    if not 1 <= window_hours <= 24 * 30:
        raise InvalidInputError(f"window_hours must be within 1..720; got {window_hours}")
    if not source.exists():
        raise DataError(f"{source}: no such file or folder (the timeseries kind reads a PhysioNet 2012 "
                        ".tar.gz or folder of per-stay .txt files, or a long-table CSV)")
    if source.is_dir() or _is_archive(source):
        files, outcome_text = _per_stay_files(source, outcomes)
        vocabulary = Vocabulary(parameters or sorted(VARIABLES))
        stays, notes = _read_stay_files(files, vocabulary, max_stays, progress, window_hours=window_hours,
                                        missing_value=missing_value, time_unit=time_unit)
        labels = _outcomes_table(outcome_text, target, outcomes.name if outcomes else "the outcomes file")
    else:
        stays, notes, labels, vocabulary = _read_long_table(source, target, outcomes, parameters, stay_column,
                                                            max_stays, window_hours=window_hours,
                                                            missing_value=missing_value, time_unit=time_unit)
    return _assemble(source, name, target, stays, notes, labels, vocabulary, window_hours, class_names,
                     missing_value)


# ---- PhysioNet layout ------------------------------------------------------------------
def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz", ".tar"))


def _per_stay_files(source: Path, outcomes: Path | None) -> tuple[list[tuple[str, bytes]], str | None]:
    """(stay id, bytes) of every per-stay file, and the outcomes file's text if found."""
    files: list[tuple[str, bytes]] = []
    outcome_text = None
    for member, data in _members(source):
        stem = Path(member).stem
        if stem.lower().startswith("outcomes"):
            outcome_text = data.decode("utf-8-sig", errors="replace")
        else:
            files.append((stem, data))
    if outcomes is not None:
        if not Path(outcomes).is_file():
            raise DataError(f"{outcomes}: no such outcomes file")
        outcome_text = Path(outcomes).read_text(encoding="utf-8-sig", errors="replace")
    if not files:
        raise DataError(f"{source.name}: no per-stay .txt files found")
    if outcome_text is None:
        raise DataError(f"{source.name}: no outcomes file (Outcomes-*.txt) found; pass outcomes=<file> with "
                        "a stay id column and the outcome column")
    return sorted(files), outcome_text


def _members(source: Path) -> Iterator[tuple[str, bytes]]:
    if source.is_dir():
        for path in sorted(source.rglob("*.txt")):
            if path.stat().st_size > MAX_STAY_FILE_BYTES and not path.stem.lower().startswith("outcomes"):
                raise DataError(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB is too big for one stay's "
                                f"file (limit {MAX_STAY_FILE_BYTES // 2**20} MB)")
            yield path.name, path.read_bytes()
        return
    try:
        with tarfile.open(source, "r:*") as archive:
            for info in archive:
                if not info.isfile() or not info.name.endswith(".txt") or Path(info.name).name.startswith("."):
                    continue
                if info.size > MAX_STAY_FILE_BYTES and not Path(info.name).stem.lower().startswith("outcomes"):
                    raise DataError(f"{source.name}: member {info.name} is {info.size / 1e6:.1f} MB, too big for "
                                    f"one stay's file (limit {MAX_STAY_FILE_BYTES // 2**20} MB)")
                handle = archive.extractfile(info)
                if handle is not None:
                    yield info.name, handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{source.name}: not a readable tar archive ({exc})") from None


def _read_stay_files(files: list[tuple[str, bytes]], vocabulary: Vocabulary, max_stays: int | None,
                     progress: Progress, *, window_hours: int, missing_value: float | None,
                     time_unit: str) -> tuple[dict[str, Stay], StayNotes]:
    stays: dict[str, Stay] = {}
    notes = StayNotes()
    chosen = files[:max_stays] if max_stays else files
    for i, (stay_id, data) in enumerate(chosen):
        stay, stay_notes = read_stay_text(data.decode("utf-8-sig", errors="replace"), vocabulary,
                                          where=f"stay {stay_id}", window_hours=window_hours,
                                          missing_value=missing_value, time_unit=time_unit, error=DataError)
        stays[stay_id] = stay
        notes.add(stay_notes)
        if i % 500 == 0:
            progress(f"reading stays ({i}/{len(chosen)})", i / len(chosen))
    return stays, notes


def read_stay_text(text: str, vocabulary: Vocabulary, *, where: str, window_hours: float,
                   missing_value: float | None, time_unit: str = "hours",
                   error: type[InvalidInputError] = DataError) -> tuple[Stay, StayNotes]:
    """One stay's ``Time,Parameter,Value`` text (the PhysioNet file format) to arrays."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise error(f"{where}: the file is empty; expected a header Time,Parameter,Value and one row per measurement")
    header = [h.strip().lower() for h in lines[0].split(",")]
    if header[:3] != list(STAY_HEADER):
        raise error(f"{where}: the first line must be the header Time,Parameter,Value; got {lines[0][:80]!r}")
    builder = StayBuilder(vocabulary, window_hours=window_hours, where=where, error=error,
                          missing_value=missing_value)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        if len(parts) < 3:
            raise error(f"{where}, line {number}: expected Time,Parameter,Value; got {line[:80]!r}")
        builder.add(f"line {number}", parts[0], parts[1], parts[2], time_unit=time_unit)
    return builder.build(), builder.notes


def _outcomes_table(text: str | None, target: str, label: str) -> dict[str, str]:
    """stay id -> outcome label (as text) from a CSV whose first column is the stay id."""
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text or ""), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{label}: not a readable CSV ({exc})") from None
    if target not in frame.columns:
        raise DataError(f"{label}: no column {target!r}; columns are {list(frame.columns)}")
    return _labels_by_stay(frame, frame.columns[0], target)


def _labels_by_stay(frame: Any, stay_column: str, target: str) -> dict[str, str]:
    ids = frame[stay_column].astype(str).str.strip()
    labels = frame[target].astype(str).str.strip()
    keep = (labels != "") & (labels.str.lower() != "nan")
    return dict(zip(ids[keep], labels[keep], strict=True))


# ---- long table ------------------------------------------------------------------------
def _read_long_table(source: Path, target: str, outcomes: Path | None, parameters: Sequence[str] | None,
                     stay_column: str | None, max_stays: int | None, *, window_hours: int,
                     missing_value: float | None, time_unit: str
                     ) -> tuple[dict[str, Stay], StayNotes, dict[str, str], Vocabulary]:
    import pandas as pd

    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{source.name}: not a readable CSV long table ({exc})") from None
    lower = {c.strip().lower(): c for c in frame.columns}
    stay = stay_column or next((lower[c] for c in STAY_COLUMNS if c in lower), None)
    missing = [c for c in STAY_HEADER if c not in lower]
    if stay is None or stay not in frame.columns or missing:
        raise DataError(f"{source.name}: a long table needs a stay id column ({stay_column or ' or '.join(STAY_COLUMNS)}) "
                        f"and columns time, parameter, value; it has {list(frame.columns)}")
    time_col, param_col, value_col = (lower[c] for c in STAY_HEADER)
    if outcomes is not None:
        if not Path(outcomes).is_file():
            raise DataError(f"{outcomes}: no such outcomes file")
        table = pd.read_csv(outcomes, dtype=str, keep_default_na=False)
        if target not in table.columns or stay not in table.columns:
            raise DataError(f"{Path(outcomes).name}: needs columns {stay!r} and {target!r}; it has {list(table.columns)}")
        labels = _labels_by_stay(table, stay, target)
    elif target in frame.columns:
        per_stay = frame[[stay, target]].drop_duplicates()
        per_stay = per_stay[per_stay[target].str.strip() != ""]
        clash = per_stay[stay][per_stay[stay].duplicated()]
        if len(clash):
            raise DataError(f"{source.name}: stay {clash.iloc[0]!r} has more than one {target!r} value; the outcome "
                            "is one per stay")
        labels = _labels_by_stay(per_stay, stay, target)
    else:
        raise DataError(f"{source.name}: no {target!r} column; give the outcome as a column or pass "
                        "outcomes=<CSV with the stay id and the outcome>")
    names = list(parameters) if parameters else sorted(set(frame[param_col].str.strip()) - {""})
    vocabulary = Vocabulary(measurable(names))
    stays: dict[str, Stay] = {}
    notes = StayNotes()
    frame["_row"] = np.arange(2, len(frame) + 2)  # as a spreadsheet numbers them, header = row 1
    groups = frame.groupby(frame[stay].str.strip(), sort=True)
    for i, (stay_id, rows) in enumerate(groups):
        if max_stays and i >= max_stays:
            break
        builder = StayBuilder(vocabulary, window_hours=window_hours, where=f"stay {stay_id}", error=DataError,
                              missing_value=missing_value)
        for row, t, p, v in zip(rows["_row"], rows[time_col], rows[param_col], rows[value_col], strict=True):
            builder.add(f"row {row}", t, p, v, time_unit=time_unit)
        stays[str(stay_id)] = builder.build()
        notes.add(builder.notes)
    return stays, notes, labels, vocabulary


# ---- both --------------------------------------------------------------------------------
def _assemble(source: Path, name: str, target: str, stays: dict[str, Stay], notes: StayNotes,
              labels: dict[str, str], vocabulary: Vocabulary, window_hours: int,
              class_names: Sequence[str] | None, missing_value: float | None) -> TimeSeriesDataset:
    from medmaas.data._target import order_labels

    warnings = notes.messages(window_hours)
    if notes.missing:
        warnings.append(f"{notes.missing} measurements with the missing-value marker were dropped")
    ids = [s for s in stays if s in labels]
    unlabelled = len(stays) - len(ids)
    if unlabelled:
        warnings.append(f"{unlabelled} stays without an outcome were left out")
    if not ids:
        raise DataError(f"{source.name}: no stay has an outcome; check that the outcome file's first column "
                        "holds the same stay ids as the measurements")
    values = [labels[s] for s in ids]
    present = sorted(set(values))
    if class_names:
        unknown = sorted(set(present) - set(class_names))
        if unknown:
            raise DataError(f"outcomes {unknown} of {target!r} are not among the classes given {list(class_names)}")
        classes, mapping = tuple(class_names), {c: c for c in class_names}
    elif set(present) <= {"0", "1"}:
        # The challenge's 0/1: named, so a prediction reads "died", not "1".
        classes = CLASSES if target == TARGET else ("0", "1")
        mapping = dict(zip(("0", "1"), classes, strict=True))
    else:
        classes = order_labels(present)
        mapping = {c: c for c in classes}
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[mapping[v]] for v in values], dtype=np.int64)
    counts = np.bincount(y, minlength=len(classes))
    if len(classes) < 2 or counts.min() < MIN_PER_CLASS:
        raise DataError(f"{source.name}: need at least {MIN_PER_CLASS} stays in each of at least two outcome "
                        f"classes; counts {dict(zip(classes, counts.tolist(), strict=True))}")
    empty = sum(1 for s in ids if stays[s].n_measurements == 0)
    if empty:
        warnings.append(f"{empty} stays have no measurements of a known variable in the first {window_hours} h; "
                        "they are kept, and their prediction rests on the static descriptors")
    return from_stays([stays[s] for s in ids], y, variable_names=vocabulary.variables, name=name,
                      source=source.name, target=target, classes=classes, stay_ids=ids, warnings=warnings,
                      window_hours=window_hours, missing_value=missing_value)

