"""Labelled image collections on disk: one folder per class, or a CSV of paths and labels.

These only list files and labels; reading each image is ``read_image``'s job, so a listing is
cheap and its errors (an empty class, a missing file) come before any decoding starts.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from medmaas.exceptions import InvalidInputError

PATH_COLUMNS = ("path", "file", "filename", "image")
LABEL_COLUMNS = ("label", "class", "target")

# Files operating systems drop into folders; never images, never meant as training data.
_JUNK = {"thumbs.db", "desktop.ini"}


def read_class_folders(root: Path) -> list[tuple[Path, str]]:
    """List ``root/<class>/<files>`` as sorted (path, class) pairs.

    Hidden files and folders (".DS_Store", ".git") are ignored; files in nested folders
    belong to their top-level class folder. At least two classes, each with a file.

    >>> read_class_folders(Path("skin"))[:1]          # doctest: +SKIP
    [(PosixPath('skin/benign/0001.png'), 'benign')]
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"{root.name or root}: not a folder of class folders")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p.name))
    pairs: list[tuple[Path, str]] = []
    empty: list[str] = []
    for folder in classes:
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and not any(_hidden(part) for part in p.relative_to(folder).parts)
            and p.name.lower() not in _JUNK
        )
        if not files:
            empty.append(folder.name)
        pairs += [(p, folder.name) for p in files]
    if empty:
        raise InvalidInputError(
            f"{root.name}: class folder(s) without files: {', '.join(empty)}; every class "
            "needs at least one image"
        )
    if len(classes) < 2:
        found = ", ".join(p.name for p in classes) or "none"
        raise InvalidInputError(
            f"{root.name}: needs at least two class folders (root/<class>/<images>); "
            f"found {len(classes)}: {found}"
        )
    return pairs


def _hidden(name: str) -> bool:
    return name.startswith(".")


def read_path_csv(csv_path: Path) -> list[tuple[Path, str]]:
    """List (path, label) pairs from a CSV with a header, in file order.

    The path column is "path", "file", "filename" or "image"; the label column "label",
    "class" or "target" (any case). Relative paths resolve against the CSV's folder; every
    listed file must exist.

    >>> read_path_csv(Path("labels.csv"))[:1]           # doctest: +SKIP
    [(PosixPath('/data/img/0001.png'), 'pneumonia')]
    """
    csv_path = Path(csv_path)
    name = csv_path.name
    try:
        text = csv_path.read_text(encoding="utf-8-sig")  # Excel writes a byte-order mark
    except FileNotFoundError:
        raise InvalidInputError(f"{name}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{name}: cannot read as UTF-8 text ({type(exc).__name__})"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))  # keeps quoted newlines in a field
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InvalidInputError(
            f"{name}: empty CSV; expected a header with path and label"
        ) from None
    path_col = _column(header, PATH_COLUMNS, "path", name)
    label_col = _column(header, LABEL_COLUMNS, "label", name)
    base = csv_path.resolve().parent
    pairs: list[tuple[Path, str]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines, often at the end
            line = reader.line_num
            if len(row) <= max(path_col, label_col):
                raise InvalidInputError(
                    f"{name}: line {line} has {len(row)} fields; expected {len(header)}"
                )
            raw_path, label = row[path_col].strip(), row[label_col].strip()
            if not raw_path:
                raise InvalidInputError(f"{name}: line {line}: empty {header[path_col]!r}")
            if not label:
                raise InvalidInputError(f"{name}: line {line}: empty {header[label_col]!r}")
            path = Path(raw_path)
            path = path if path.is_absolute() else base / path
            if not path.is_file():
                what = "is a folder, not a file" if path.is_dir() else "does not exist"
                raise InvalidInputError(f"{name}: line {line}: file {raw_path!r} {what}")
            pairs.append((path, label))
    except csv.Error as exc:
        raise InvalidInputError(
            f"{name}: malformed CSV at line {reader.line_num} ({exc})"
        ) from None
    if not pairs:
        raise InvalidInputError(f"{name}: no rows after the header")
    return pairs


def _column(header: list[str], names: tuple[str, ...], role: str, name: str) -> int:
    for candidate in names:
        if candidate in header:
            return header.index(candidate)
    raise InvalidInputError(
        f"{name}: no {role} column; expected one of {', '.join(names)}; "
        f"found {', '.join(header) or 'none'}"
    )
