"""``medmaas entities``: problems, medications and tests in a clinical note, with negation and
context, on this machine (nothing leaves it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from medmaas.exceptions import DataError

_FLAGS = ("negated", "uncertain", "historical", "hypothetical", "family")


def entities(
    source: Annotated[Path, typer.Argument(help="a text file, or - for standard input")],
    as_json: Annotated[bool, typer.Option("--json", help="print the entities and counts as JSON")] = False,
) -> None:
    """Find the problems, medications and tests in a note, each flagged negated, uncertain,
    historical, hypothetical or family where the note says so, with the section it is in."""
    from medmaas.text.entities import count_labels, extract_entities

    text = _read(source)
    if not text.strip():
        raise DataError(f"{'standard input' if str(source) == '-' else source}: no text to read")
    found = extract_entities(text)
    if as_json:
        print(json.dumps({"entities": [e.to_dict() for e in found], "counts": count_labels(found)}))
        return
    print("start\tend\tlabel\ttext\tconcept\tflags\tsection")
    for e in found:
        flags = ",".join(f for f in _FLAGS if getattr(e, f)) or "-"
        print(f"{e.start}\t{e.end}\t{e.label}\t{e.text}\t{e.concept}\t{flags}\t{e.section or '-'}")


def _read(source: Path) -> str:
    if str(source) == "-":
        return sys.stdin.read()
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    try:
        return source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not UTF-8 text (byte {exc.start}); convert it first") from exc
