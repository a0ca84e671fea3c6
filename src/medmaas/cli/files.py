"""Batch prediction over files: every image (or note) in a folder through a model's file decoder.

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


def decode_files(model: Any, root: Path, show_progress: bool = True) -> tuple[Batch, list[dict[str, str]]]:
    """One batch of every readable file under ``root`` and the list of files refused."""
    files = list_files(root)
    parts: list[Batch] = []
    failed: list[dict[str, str]] = []
    in_folder = root.is_dir()
    with progress_bar(f"reading {len(files)} file(s)", enabled=show_progress) as progress:
        for i, path in enumerate(files):
            label = str(path.relative_to(root)) if in_folder else path.name
            try:
                batch = model.kind.decode_file(model.spec, path.read_bytes(), path.name)
            except (InvalidInputError, PayloadTooLargeError) as exc:
                failed.append({"file": label, "error": str(exc)})
                continue
            for record in batch.records:
                record["file"] = label
            parts.append(batch)
            progress(f"{label}", (i + 1) / len(files))
    if not parts:
        return Batch(feeds={}, n=0, records=[], warnings=[]), failed
    feeds = {k: join_feeds([b.feeds[k] for b in parts]) for k in parts[0].feeds}
    return Batch(feeds=feeds, n=sum(b.n for b in parts), records=[r for b in parts for r in b.records],
                 warnings=[w for b in parts for w in b.warnings]), failed
