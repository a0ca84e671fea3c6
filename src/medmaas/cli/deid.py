"""``medmaas deid``: de-identify clinical notes on this machine (nothing leaves it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from medmaas.exceptions import DataError


def deid(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="a text file, a folder of .txt files, or - for standard input")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file (or folder, for a folder) to write; default: standard output")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the tagged text with the spans as JSON")] = False,
    surrogates: Annotated[bool, typer.Option(help="realistic stand-ins instead of type tags (keyed by the server secret)")] = False,
    patient: Annotated[str, typer.Option(help="with --surrogates: one patient's key; same person and date shift across their notes")] = "",
) -> None:
    """Replace the identifiers in clinical notes with their type tags (<NAME>, <DATE>, ...).

    The rules are written for English notes: a note in another language is processed with a
    warning on standard error. Every note is read and checked before anything is written, so
    a bad file leaves no half-written output.
    """
    from medmaas.privacy.deid import MAX_NOTE_CHARS, Surrogates, deidentify

    if str(source) == "-":
        notes = {"-": _check("standard input", sys.stdin.read(), MAX_NOTE_CHARS)}
    elif source.is_dir():
        notes = {p.name: _check(str(p), _read(p), MAX_NOTE_CHARS) for p in sorted(source.glob("*.txt"))}
        if not notes:
            raise DataError(f"{source}: no .txt files in this folder")
    elif source.is_file():
        notes = {source.name: _check(str(source), _read(source), MAX_NOTE_CHARS)}
    else:
        raise DataError(f"{source}: no such file or folder")
    stand_ins = (Surrogates.from_server_secret(ctx.obj.settings.resolved_secret(), patient)
                 if surrogates else None)
    results = {name: deidentify(text, surrogates=stand_ins) for name, text in notes.items()}
    if output is not None and source.is_dir():
        output.mkdir(parents=True, exist_ok=True)
    for name, result in results.items():
        for warning in result.warnings:
            typer.echo(f"Warning: {name}: {warning}", err=True)
        shown = (json.dumps({"source": name, "text": result.text, "counts": result.counts(),
                             "spans": [vars(s) for s in result.spans], "warnings": result.warnings})
                 if as_json else result.text)
        if output is None:
            print(shown)
        elif source.is_dir():
            (output / name).write_text(shown)
        else:
            output.write_text(shown)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); convert it first") from exc


def _check(name: str, text: str, limit: int) -> str:
    if not text.strip():
        raise DataError(f"{name}: the note is empty, nothing to de-identify")
    if len(text) > limit:
        raise DataError(f"{name}: {len(text):,} characters; one note may have at most {limit:,}: "
                        "split longer documents into notes")
    return text
