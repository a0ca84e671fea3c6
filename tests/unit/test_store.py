"""The content-addressed artifact store: deterministic names, atomic writes, dedup, checks."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from medmaas.exceptions import IntegrityError, InvalidInputError, NotFoundError
from medmaas.registry.store import ArtifactStore, hash_dir


def _bundle(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


FILES = {"model.onnx": b"\x08\x01onnx", "spec.json": b"{}", "explain/background.npy": b"bg"}


def _artifact_dirs(root: Path) -> list[Path]:
    return [p for p in root.glob("??/*") if p.is_dir()]


def test_put_dir_stores_a_copy_named_by_its_content(tmp_path: Path) -> None:
    src = _bundle(tmp_path / "src", FILES)
    store = ArtifactStore(tmp_path / "store")
    sha = store.put_dir(src)
    assert sha == hash_dir(src)
    stored = store.get_dir(sha)
    assert stored == tmp_path / "store" / sha[:2] / sha
    assert {
        p.relative_to(stored).as_posix(): p.read_bytes() for p in stored.rglob("*") if p.is_file()
    } == FILES
    store.verify(sha)
    # Stored files are read-only so an accidental edit fails instead of corrupting silently.
    assert (os.stat(stored / "model.onnx").st_mode & 0o222) == 0


def test_hash_depends_on_paths_and_bytes_only(tmp_path: Path) -> None:
    a = _bundle(tmp_path / "a", FILES)
    b = _bundle(tmp_path / "b", dict(reversed(list(FILES.items()))))
    os.utime(b / "spec.json", (1, 1))
    os.chmod(b / "spec.json", 0o600)
    assert hash_dir(a) == hash_dir(b)
    (b / "spec.json").write_bytes(b"{ }")
    assert hash_dir(a) != hash_dir(b)
    c = _bundle(tmp_path / "c", {**FILES, "spec.json": b""})
    (c / "spec.json").rename(c / "spec2.json")
    (c / "spec2.json").write_bytes(b"{}")
    assert hash_dir(a) != hash_dir(c)
    # Moving bytes between a name and its content cannot collide.
    d = _bundle(tmp_path / "d", {"ab": b"c"})
    e = _bundle(tmp_path / "e", {"a": b"bc"})
    assert hash_dir(d) != hash_dir(e)


def test_storing_the_same_content_twice_keeps_one_copy(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    first = store.put_dir(_bundle(tmp_path / "one", FILES))
    second = store.put_dir(_bundle(tmp_path / "two", FILES))
    assert first == second
    assert _artifact_dirs(store.root) == [store.get_dir(first)]
    assert list((store.root / ".tmp").iterdir()) == []


def test_concurrent_puts_of_one_bundle_agree(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    sources = [_bundle(tmp_path / f"src{i}", FILES) for i in range(6)]
    results: list[str] = []
    errors: list[BaseException] = []

    def work(src: Path) -> None:
        try:
            results.append(store.put_dir(src))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert len(_artifact_dirs(store.root)) == 1
    store.verify(results[0])


def test_a_crashed_write_is_never_visible_as_an_artifact(tmp_path: Path) -> None:
    src = _bundle(tmp_path / "src", FILES)
    sha = hash_dir(src)
    store = ArtifactStore(tmp_path / "store")
    # What a writer killed mid-copy leaves behind: a partial temporary directory.
    crashed = store.root / ".tmp" / "12345-deadbeef"
    crashed.mkdir(parents=True)
    (crashed / "model.onnx").write_bytes(FILES["model.onnx"][:2])
    with pytest.raises(NotFoundError, match=f"artifact {sha} not found"):
        store.get_dir(sha)
    assert _artifact_dirs(store.root) == []

    assert store.put_dir(src) == sha
    store.verify(sha)
    assert store.purge_incomplete() == 0  # too recent: it might be a write in progress
    old = time.time() - 7200
    os.utime(crashed, (old, old))
    assert store.purge_incomplete() == 1
    assert list((store.root / ".tmp").iterdir()) == []
    store.verify(sha)


def test_verify_detects_changed_content(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    sha = store.put_dir(_bundle(tmp_path / "src", FILES))
    target = store.get_dir(sha) / "spec.json"
    os.chmod(target, 0o644)
    target.write_bytes(b'{"edited": true}')
    with pytest.raises(IntegrityError, match=f"artifact {sha} is corrupted"):
        store.verify(sha)


def test_bad_sources_are_refused_with_the_reason(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(InvalidInputError, match="does not exist or is not a directory"):
        store.put_dir(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="holds no files"):
        store.put_dir(tmp_path / "empty")
    src = _bundle(tmp_path / "linked", FILES)
    (tmp_path / "secret.txt").write_text("not part of the bundle")
    (src / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(InvalidInputError, match="plain files only"):
        store.put_dir(src)
    with pytest.raises(InvalidInputError, match="64 lowercase hex"):
        store.get_dir("../../etc")


def test_single_files_round_trip_and_are_checked(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    sha = store.put_bytes(b"plot.png bytes")
    assert store.put_bytes(b"plot.png bytes") == sha
    assert store.get_bytes(sha) == b"plot.png bytes"
    with pytest.raises(NotFoundError):
        store.get_bytes("0" * 64)
    path = store.root / "blobs" / sha[:2] / sha
    os.chmod(path, 0o644)
    path.write_bytes(b"other")
    with pytest.raises(IntegrityError, match="corrupted"):
        store.get_bytes(sha)
