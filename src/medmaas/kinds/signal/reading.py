"""Training sources of the signal kind: WFDB records with beat annotations (MIT-BIH style), in
a folder or an archive. Beats are cut by the same detector serving uses and labelled by the
annotation each detected beat matches, so the model learns from beats as the server will see
them; ``peaks="annotations"`` cuts at the annotated positions instead (the literature's way)."""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medmaas.exceptions import DataError, InvalidInputError
from medmaas.kinds.base import Progress, no_progress
from medmaas.kinds.signal.dataset import BeatDataset, beats_sha256
from medmaas.kinds.signal.processing import Beats, beats_of

#: The AAMI EC57 beat classes and the MIT-BIH annotation symbols each gathers.
AAMI_CLASSES = ("N", "S", "V", "F", "Q")
AAMI_SYMBOLS = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
SYMBOL_CLASS = {s: c for c, symbols in AAMI_SYMBOLS.items() for s in symbols}
#: A detected peak and an annotated beat are the same beat within 150 ms (ANSI/AAMI EC57).
MATCH_S = 0.15
MIN_PER_CLASS = 5


def read_beat_dataset(source: Path, *, name: str, lead: str = "MLII", annotator: str = "atr",
                      peaks: str = "detected", records: Sequence[str] | None = None,
                      progress: Progress = no_progress) -> BeatDataset:
    """Beats of every annotated WFDB record under ``source`` (a folder, a record path without
    extension, or a .tar/.tar.gz/.tar.xz archive), labelled with the AAMI classes."""
    if peaks not in ("detected", "annotations"):
        raise InvalidInputError(f"peaks must be 'detected' or 'annotations'; got {peaks!r}")
    source = Path(source)
    if source.is_file() and tarfile.is_tarfile(source):
        with tempfile.TemporaryDirectory(prefix="medmaas-records-") as tmp:
            with tarfile.open(source) as archive:
                archive.extractall(tmp, filter="data")
            return _read_folder(Path(tmp), source.name, name=name, lead=lead, annotator=annotator,
                                peaks=peaks, records=records, progress=progress)
    if source.with_suffix(".hea").is_file():
        return _read_folder(source.parent, source.name, name=name, lead=lead, annotator=annotator,
                            peaks=peaks, records=[source.name], progress=progress)
    if source.is_dir():
        return _read_folder(source, source.name, name=name, lead=lead, annotator=annotator, peaks=peaks,
                            records=records, progress=progress)
    raise DataError(f"{source}: no such folder, record or archive of WFDB records")


def _read_folder(folder: Path, label: str, *, name: str, lead: str, annotator: str, peaks: str,
                 records: Sequence[str] | None, progress: Progress) -> BeatDataset:
    headers = {p.stem: p for p in sorted(folder.rglob("*.hea"))}
    if records is not None:
        missing = sorted(set(records) - set(headers))
        if missing:
            raise DataError(f"{label}: no record(s) {missing}; found {sorted(headers)[:10]}")
        headers = {r: headers[r] for r in records}
    annotated = {r: p for r, p in headers.items() if p.with_suffix(f".{annotator}").is_file()}
    if not annotated:
        raise DataError(f"{label}: no WFDB record with '.{annotator}' beat annotations")
    parts, warnings, lead_used = [], [], lead
    for i, (record, header) in enumerate(annotated.items()):
        progress(f"reading record {record} ({i + 1}/{len(annotated)})", i / len(annotated))
        beats, labels, notes, lead_used = _record_beats(header.with_suffix(""), lead, annotator, peaks)
        warnings += notes
        parts.append((record, beats, labels))
    windows = np.concatenate([b.windows for _, b, _ in parts])
    rhythm = np.concatenate([b.rhythm for _, b, _ in parts])
    symbols = np.concatenate([labels for _, _, labels in parts])
    record_of = np.concatenate([np.full(len(labels), r, dtype="<U16") for r, _, labels in parts])
    tally = {c: int((symbols == c).sum()) for c in AAMI_CLASSES}
    present = [c for c in AAMI_CLASSES if tally[c] >= MIN_PER_CLASS]
    rare = [f"{c} ({tally[c]})" for c in AAMI_CLASSES if 0 < tally[c] < MIN_PER_CLASS]
    if rare:
        warnings.append(f"beats of class(es) {', '.join(rare)} left out: fewer than {MIN_PER_CLASS} to learn from")
    absent = [c for c in AAMI_CLASSES if c not in present]
    if absent:
        warnings.append(f"no beats of AAMI class(es) {', '.join(absent)}: the model can't answer them")
    if len(present) < 2:
        raise DataError(f"{label}: need at least {MIN_PER_CLASS} beats in each of at least two classes; "
                        f"counts {tally}")
    keep = np.isin(symbols, present)
    windows, rhythm, symbols, record_of = windows[keep], rhythm[keep], symbols[keep], record_of[keep]
    index = {c: i for i, c in enumerate(present)}
    y = np.array([index[s] for s in symbols], dtype=np.int64)
    progress("records read", 1.0)
    return BeatDataset(name=name, task="classification", target_name="beat_class", source=label,
                       content_sha256=beats_sha256(windows, y, record_of), classes=tuple(present),
                       warnings=warnings, windows=windows, rhythm=rhythm, y=y, records=record_of,
                       lead=lead_used)


def _record_beats(path: Path, lead: str, annotator: str, peaks: str) -> tuple[Beats, np.ndarray, list[str], str]:
    """One record's beats, their AAMI labels, notes, and the lead used."""
    import wfdb

    try:
        record = wfdb.rdrecord(str(path))
        annotation = wfdb.rdann(str(path), annotator)
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed records
        raise DataError(f"{path.name}: not a readable WFDB record ({type(exc).__name__}: {exc})") from None
    names = [n.upper() for n in record.sig_name]
    notes = []
    if lead.upper() in names:
        channel = names.index(lead.upper())
    else:
        channel = 0
        notes.append(f"record {path.name}: no lead {lead}; used {record.sig_name[0]}")
    fs = float(record.fs)
    symbols = np.asarray(annotation.symbol)
    is_beat = np.isin(symbols, list(SYMBOL_CLASS))
    ref_samples, ref_classes = annotation.sample[is_beat], np.array([SYMBOL_CLASS[s] for s in symbols[is_beat]])
    where = f"record {path.name}"
    if peaks == "annotations":
        beats, gap_notes = beats_of(record.p_signal[:, channel], fs, where=where, peaks_at=ref_samples)
        matched = np.searchsorted(ref_samples, beats.peaks)  # the same positions, in order
        return beats, ref_classes[np.clip(matched, 0, len(ref_classes) - 1)], notes + gap_notes, lead
    beats, gap_notes = beats_of(record.p_signal[:, channel], fs, where=where)
    nearest, ok = match_beats(beats.peaks, ref_samples, MATCH_S * fs)
    missed = len(ref_samples) - len(np.unique(nearest[ok]))
    if missed:
        notes.append(f"record {path.name}: {missed} of {len(ref_samples)} annotated beats were not detected")
    kept = np.flatnonzero(ok)
    beats = Beats(windows=beats.windows[kept], rhythm=beats.rhythm[kept], peaks=beats.peaks[kept],
                  skipped_at_edges=beats.skipped_at_edges)
    return beats, ref_classes[nearest[kept]], notes + gap_notes, lead


def match_beats(found: np.ndarray, reference: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """For each found peak: the index of the nearest reference beat, and whether it lies within
    ``tolerance`` samples.

    >>> match_beats(np.array([10, 52, 300]), np.array([12, 50, 100]), 5)
    (array([0, 1, 2]), array([ True,  True, False]))
    """
    if len(reference) == 0:
        return np.zeros(len(found), dtype=np.int64), np.zeros(len(found), dtype=bool)
    right = np.clip(np.searchsorted(reference, found), 0, len(reference) - 1)
    left = np.clip(right - 1, 0, len(reference) - 1)
    nearest = np.where(np.abs(reference[left] - found) <= np.abs(reference[right] - found), left, right)
    return nearest, np.abs(reference[nearest] - found) <= tolerance
