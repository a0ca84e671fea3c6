"""Training sources of the text kind: a CSV or TSV with one or more text columns and a label
column. Notes are de-identified as they are read (by default), so a model never learns from
identifiers and serving, which de-identifies too, sees the same kind of text."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medmaas.exceptions import DataError, InvalidInputError
from medmaas.kinds.base import Progress, no_progress
from medmaas.kinds.text.dataset import TextDataset, texts_sha256

#: joins several text columns of a row into one note; the encoder sees them as one passage
COLUMN_JOINER = "\n"
MIN_PER_CLASS = 5


def read_text_dataset(source: Path, *, name: str, target: str, text_columns: Sequence[str] | None = None,
                      class_names: Sequence[str] | None = None, deidentify: bool = True,
                      progress: Progress = no_progress) -> TextDataset:
    """Read a delimited file into a dataset of notes and labels.

    ``text_columns`` default to the one column named ``text``; ``class_names`` fixes the class
    order (e.g. by severity) instead of the sorted order. Rows with an empty note or label are
    dropped with a warning.
    """
    from medmaas.data._delimited import read_delimited
    from medmaas.data._encoding import decode_text
    from medmaas.data._target import order_labels

    source = Path(source)
    if not source.is_file():
        raise DataError(f"{source}: no such file (the text kind reads a CSV or TSV)")
    frame = read_delimited(decode_text(source.read_bytes(), source.name), source.name)
    columns = list(text_columns or ["text"])
    missing = [c for c in [*columns, target] if c not in frame.columns]
    if missing:
        raise DataError(f"{source.name}: no column(s) {missing}; columns are {list(frame.columns)}")
    notes = frame[columns].fillna("").astype(str).agg(COLUMN_JOINER.join, axis=1).str.strip()
    labels = frame[target]
    keep = (notes != "") & labels.notna()
    warnings = []
    if (~keep).any():
        warnings.append(f"{int((~keep).sum())} rows without text or without a {target!r} label were left out")
    notes, labels = notes[keep].tolist(), labels[keep].astype(str).tolist()
    present = sorted(set(labels))
    if class_names:
        unknown = sorted(set(present) - set(class_names))
        if unknown:
            raise InvalidInputError(f"labels {unknown} of {target!r} are not among the classes given {list(class_names)}")
        classes = tuple(class_names)
    else:
        classes = order_labels(present)
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[v] for v in labels], dtype=np.int64)
    counts = np.bincount(y, minlength=len(classes))
    if len(classes) < 2 or counts.min() < MIN_PER_CLASS:
        raise DataError(f"{source.name}: need at least {MIN_PER_CLASS} notes in each of at least two classes; "
                        f"counts {dict(zip(classes, counts.tolist(), strict=True))}")
    if deidentify:
        notes, replaced = deidentify_notes(notes, progress)
        warnings.append(f"notes de-identified before training: {replaced} identifier spans replaced by their type")
    return TextDataset(name=name, task="classification", target_name=target, source=source.name,
                       content_sha256=texts_sha256(notes, y), classes=classes, warnings=warnings,
                       texts=notes, y=y, deidentified=deidentify)


def deidentify_notes(notes: list[str], progress: Progress = no_progress) -> tuple[list[str], int]:
    """The notes with identifiers replaced by their type, and how many spans were replaced."""
    from medmaas.privacy.deid import deidentify

    out, replaced = [], 0
    for i, note in enumerate(notes):
        result = deidentify(note)
        out.append(result.text)
        replaced += len(result.spans)
        if i % 200 == 0:
            progress(f"de-identifying notes ({i}/{len(notes)})", i / len(notes))
    return out, replaced

