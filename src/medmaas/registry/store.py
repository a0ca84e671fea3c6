"""Content-addressed artifact store: bundle directories and single files, named by sha256.

A stored artifact never changes: its name is the hash of its content, so writing the same bundle
twice stores it once, and a reader can always check what it got. Writes are atomic: content goes
into a temporary directory under ``root/.tmp``, every file is fsynced, and one rename publishes
it at ``root/<sha[:2]>/<sha>``. A crash leaves at most a temporary directory, which is never
visible as an artifact (see :meth:`ArtifactStore.purge_incomplete`).

The directory hash covers the sorted relative paths and the bytes of every regular file, so it
is the same on every machine and independent of timestamps and permissions. Layout::

    root/ab/ab12...ef/         a bundle directory
    root/blobs/cd/cd34...01    a single file
    root/.tmp/                 writes in progress

An fsspec (S3-compatible) backend is future work; it will implement the same four methods.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import time
import uuid
from pathlib import Path

from medmaas.exceptions import IntegrityError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_TMP = ".tmp"
_BLOBS = "blobs"


def _check_sha(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise InvalidInputError(f"artifact id must be 64 lowercase hex characters; got {sha!r}")
    return sha


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes a rename durable; not every platform can open a directory.
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


def _bundle_files(src: Path) -> list[tuple[str, Path]]:
    """Sorted (relative posix path, absolute path) of every file; refuses links and specials."""
    files: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        base = Path(dirpath)
        for name in dirnames:
            if (base / name).is_symlink():
                raise InvalidInputError(
                    f"bundle must hold plain files only; {base / name} is a symbolic link"
                )
        for name in filenames:
            path = base / name
            mode = path.lstat().st_mode
            if not stat.S_ISREG(mode):
                raise InvalidInputError(
                    f"bundle must hold plain files only; {path} is a link or special file"
                )
            files.append((path.relative_to(src).as_posix(), path))
    files.sort(key=lambda item: item[0].encode())
    return files


class _DirHasher:
    """The directory digest: for each file in path order, len(path) + path + sha256(bytes)."""

    def __init__(self) -> None:
        self._outer = hashlib.sha256()

    def add(self, relpath: str, file_digest: bytes) -> None:
        encoded = relpath.encode()
        self._outer.update(len(encoded).to_bytes(8, "big") + encoded + file_digest)

    def hexdigest(self) -> str:
        return self._outer.hexdigest()


def hash_dir(path: Path) -> str:
    """The content hash of a bundle directory, as :meth:`ArtifactStore.put_dir` names it.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_bytes(b"x")
    >>> len(hash_dir(d))
    64
    """
    path = Path(path)
    hasher = _DirHasher()
    for relpath, file in _bundle_files(path):
        digest = hashlib.sha256()
        with open(file, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        hasher.add(relpath, digest.digest())
    return hasher.hexdigest()


class ArtifactStore:
    """Local content-addressed storage under ``root``.

    >>> import tempfile, pathlib
    >>> store = ArtifactStore(pathlib.Path(tempfile.mkdtemp()))
    >>> sha = store.put_bytes(b"hello")
    >>> store.get_bytes(sha)
    b'hello'
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- directories -------------------------------------------------------------------------

    def put_dir(self, src_dir: Path) -> str:
        """Store a bundle directory and return its sha256; storing it again is a no-op.

        The hash is computed over the bytes as they are copied, so the name always matches what
        was stored even if the source changes meanwhile.
        """
        src = Path(src_dir)
        if not src.is_dir():
            raise InvalidInputError(f"bundle directory {src} does not exist or is not a directory")
        files = _bundle_files(src)
        if not files:
            raise InvalidInputError(f"bundle directory {src} holds no files")
        tmp = self._new_tmp()
        try:
            tmp.mkdir()
            hasher = _DirHasher()
            for relpath, file in files:
                target = tmp / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                hasher.add(relpath, _copy_and_hash(file, target))
            for directory in sorted({(tmp / rel).parent for rel, _ in files}, reverse=True):
                _fsync_dir(directory)
            sha = hasher.hexdigest()
            self._publish(tmp, self._dir_path(sha))
            return sha
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def get_dir(self, sha: str) -> Path:
        """The path of a stored directory; NotFoundError if there is none."""
        path = self._dir_path(_check_sha(sha))
        if not path.is_dir():
            raise NotFoundError(f"artifact {sha} not found in {self.root}")
        return path

    def verify(self, sha: str) -> None:
        """Re-hash a stored directory; IntegrityError if its content no longer matches its name."""
        actual = hash_dir(self.get_dir(sha))
        if actual != sha:
            raise IntegrityError(f"artifact {sha} is corrupted: its files now hash to {actual}")

    # -- single files ------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store one file's bytes and return their sha256; storing them again is a no-op."""
        sha = hashlib.sha256(data).hexdigest()
        target = self._blob_path(sha)
        if target.exists():
            return sha
        tmp = self._new_tmp()
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return sha

    def get_bytes(self, sha: str) -> bytes:
        """The stored bytes, checked against their name (files are small; the check is cheap)."""
        path = self._blob_path(_check_sha(sha))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"artifact {sha} not found in {self.root}") from None
        if hashlib.sha256(data).hexdigest() != sha:
            raise IntegrityError(f"artifact {sha} is corrupted: its bytes no longer match")
        return data

    # -- housekeeping ------------------------------------------------------------------------

    def purge_incomplete(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary directories left by crashed writers; returns how many were removed.

        Only entries older than ``older_than_s`` go, so a write in progress is left alone.
        """
        tmp_root = self.root / _TMP
        if not tmp_root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in tmp_root.iterdir():
            try:
                if entry.lstat().st_mtime >= cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
            except FileNotFoundError:
                continue
        return removed

    # -- internals ---------------------------------------------------------------------------

    def _dir_path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def _blob_path(self, sha: str) -> Path:
        return self.root / _BLOBS / sha[:2] / sha

    def _new_tmp(self) -> Path:
        tmp_root = self.root / _TMP
        tmp_root.mkdir(parents=True, exist_ok=True)
        return tmp_root / f"{os.getpid()}-{uuid.uuid4().hex}"

    def _publish(self, tmp: Path, target: Path) -> None:
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another writer published the same content first; theirs is identical.
            if target.is_dir():
                return
            raise
        _fsync_dir(target.parent)


def _copy_and_hash(src: Path, dst: Path) -> bytes:
    digest = hashlib.sha256()
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    # Stored artifacts are immutable; read-only files make an accidental edit fail loudly.
    os.chmod(dst, 0o444)
    return digest.digest()
