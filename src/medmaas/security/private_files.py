"""Secrets on disk (the server secret, the dataset key file): readable by their owner only, and
never seen half-written.

A file created in place (``O_CREAT | O_EXCL``, then written) exists empty for a moment: a process
starting beside the writer reads nothing, and a kill at that moment leaves an empty secret for
good. Here the content is written and fsynced under a temporary name first, then published in one
step: ``os.link`` to create a file that must not exist yet, ``os.replace`` to overwrite one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from medmaas.durable import fsync_dir


def create_private(path: Path, data: str) -> bool:
    """Create ``path`` (mode 0600) holding ``data`` unless it exists; whether this call created it.

    >>> import tempfile; home = Path(tempfile.mkdtemp())
    >>> create_private(home / "s", "one"), create_private(home / "s", "two"), (home / "s").read_text()
    (True, False, 'one')
    """
    tmp = _write_temporary(path, data)
    try:
        os.link(tmp, path)  # atomic, and fails if another process published first
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def replace_private(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` (mode 0600), replacing what it held in one step."""
    tmp = _write_temporary(path, data)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _write_temporary(path: Path, data: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp
