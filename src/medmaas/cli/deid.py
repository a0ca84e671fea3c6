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
    """Replace the identifiers in clinical notes with their type tags (<NAME>, <DATE>, ...)."""
    from medmaas.privacy.deid import Surrogates, deidentify

    stand_ins = (Surrogates.from_server_secret(ctx.obj.settings.resolved_secret(), patient)
                 if surrogates else None)

    if str(source) == "-":
        notes = {"-": sys.stdin.read()}
    elif source.is_dir():
        notes = {p.name: _read(p) for p in sorted(source.glob("*.txt"))}
        if not notes:
            raise DataError(f"{source}: no .txt files in this folder")
    elif source.is_file():
        notes = {source.name: _read(source)}
    else:
        raise DataError(f"{source}: no such file or folder")
    if output is not None and source.is_dir():
        output.mkdir(parents=True, exist_ok=True)
    for name, text in notes.items():
        result = deidentify(text, surrogates=stand_ins)
        shown = (json.dumps({"source": name, "text": result.text, "counts": result.counts(),
                             "spans": [vars(s) for s in result.spans]}) if as_json else result.text)
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
