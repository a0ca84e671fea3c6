"""Making a rename or a new file name survive a power cut: what the artifact store and the
secret files both need."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """fsync a directory, which makes the names just created or renamed in it durable. Not every
    platform can open a directory; there it does nothing."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
