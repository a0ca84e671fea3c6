"""Fixtures the unit tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medmaas.registry import Registry


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A fresh, migrated registry on SQLite under ``tmp_path`` (a module may define its own)."""
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}", tmp_path / "artifacts")
    reg.migrate()
    yield reg
    reg.close()
