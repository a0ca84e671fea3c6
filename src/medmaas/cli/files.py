"""Batch prediction over files: every image, note or recording in a folder through a model's
file decoder. A WFDB record travels as one upload: its header and the data files it names.

A file that cannot be read is reported with its reason and the others go on; one bad scan
must not sink a night's batch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medmaas.cli.progress import progress_bar
from medmaas.exceptions import InvalidInputError, PayloadTooLargeError
from medmaas.kinds.base import Batch
from medmaas.runtime.batcher import join_feeds


def list_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    files = sorted(p for p in root.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise InvalidInputError(f"{root} holds no files")
    return files


def upload_units(files: list[Path]) -> list[list[Path]]:
    """The files grouped as they would be uploaded: a WFDB header with the data files it names
    (beside it), every other file alone; annotation files of a record are left out."""
    from medmaas.kinds.signal.waveform import parse_header

    units, taken = [], set()
    for header in (f for f in files if f.suffix.lower() == ".hea"):
        try:
            named = parse_header(header.read_text(encoding="latin-1"), header.name).formats
        except InvalidInputError:  # the decoder says what is wrong with it
            named = {}
        data = [header.parent / n for n in sorted(named) if (header.parent / n).is_file()]
        units.append([header, *data])
        taken |= {header, *data}
        taken |= {f for f in files if f.parent == header.parent and f.stem == header.stem}
    units += [[f] for f in files if f not in taken]
    return sorted(units, key=lambda unit: str(unit[0]))


def decode_files(model: Any, root: Path, show_progress: bool = True,
                 options: dict[str, str] | None = None) -> tuple[Batch, list[dict[str, str]]]:
    """One batch of every readable file (or record) under ``root`` and the list refused."""
    units = upload_units(list_files(root))
    parts: list[Batch] = []
    failed: list[dict[str, str]] = []
    in_folder = root.is_dir()
    with progress_bar(f"reading {len(units)} file(s)", enabled=show_progress) as progress:
        for i, unit in enumerate(units):
            path = unit[0]
            label = str(path.relative_to(root)) if in_folder else path.name
            try:
                batch = model.kind.decode_files(model.spec, {p.name: p.read_bytes() for p in unit}, options or {})
            except (InvalidInputError, PayloadTooLargeError) as exc:
                failed.append({"file": label, "error": str(exc)})
                continue
            for record in batch.records:
                record["file"] = label
            parts.append(batch)
            progress(f"{label}", (i + 1) / len(units))
    if not parts:
        return Batch(feeds={}, n=0, records=[], warnings=[]), failed
    feeds = {k: join_feeds([b.feeds[k] for b in parts]) for k in parts[0].feeds}
    return Batch(feeds=feeds, n=sum(b.n for b in parts), records=[r for b in parts for r in b.records],
                 warnings=[w for b in parts for w in b.warnings]), failed
