"""Secrets on disk are published whole: never read empty, never left half-written by a kill."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from medmaas.exceptions import IntegrityError
from medmaas.security.private_files import create_private, replace_private
from medmaas.settings import Settings


def test_one_creator_wins_and_every_reader_sees_its_whole_content(tmp_path: Path) -> None:
    path = tmp_path / "server.secret"

    def create_then_read(n: int) -> tuple[bool, str]:
        created = create_private(path, f"secret-{n:02d}-" + "x" * 4096)
        return created, path.read_text()  # read at once: before, this could be ""

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(create_then_read, range(64)))
    assert sum(created for created, _ in outcomes) == 1
    assert len({text for _, text in outcomes}) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["server.secret"]  # no temporary file left


def test_replacing_keeps_the_file_private_and_whole(tmp_path: Path) -> None:
    path = tmp_path / "dataset.keys"
    create_private(path, "old")
    replace_private(path, "new")
    assert path.read_text() == "new" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["dataset.keys"]


def test_two_homes_generate_different_secrets(tmp_path: Path) -> None:
    first, second = (Settings(home=tmp_path / name).resolved_secret() for name in ("a", "b"))
    assert len(first) == 64 and first != second
    assert Settings(home=tmp_path / "a").resolved_secret() == first  # created once, then read


@pytest.mark.parametrize("content", ["", "  \n", "0123456789abcdef"])
def test_an_empty_or_truncated_secret_is_refused_not_used(tmp_path: Path, content: str) -> None:
    # A kill between creating the file and writing it used to leave it empty; every key was
    # then hashed under an empty secret.
    (tmp_path / "server.secret").write_text(content)
    with pytest.raises(IntegrityError, match="restore it from a backup, or delete it"):
        Settings(home=tmp_path).resolved_secret()


def test_the_cli_says_what_is_wrong_with_the_secret(tmp_path: Path) -> None:
    # In its own process, as a user runs it: no other test's logging or captured streams.
    (tmp_path / "server.secret").write_text("")
    os.chmod(tmp_path / "server.secret", 0o600)
    done = subprocess.run([sys.executable, "-m", "medmaas.cli.main", "--home", str(tmp_path), "keys", "list"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 1, done.stderr
    assert "server.secret holds 0 characters" in done.stderr and "Traceback" not in done.stderr, done.stderr
