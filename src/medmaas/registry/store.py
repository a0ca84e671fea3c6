"""Content-addressed artifact store: bundle directories and single files, named by sha256.

A stored artifact never changes: its name is the hash of its content, so writing the same bundle
twice stores it once, and a reader can always check what it got. Writes are atomic: content goes
into a temporary directory under ``root/.tmp``, every file is fsynced, and one rename publishes
it at ``root/<sha[:2]>/<sha>``. A crash leaves at most a temporary directory, which is never
visible as an artifact and which the next process to open the store removes (see
:meth:`ArtifactStore.recover`).

Each temporary entry ``.tmp/<name>`` has a lock file ``.tmp/<name>.lock`` that its writer holds
(``flock``) from before the entry exists until after it is gone. The kernel releases a lock when
its holder dies, however it dies, so a lock that can be taken belongs to no live writer: that
is what makes removing leftovers safe while other processes write, whatever their age.

The directory hash covers the sorted relative paths and the bytes of every regular file, so it
is the same on every machine and independent of timestamps and permissions. Layout::

    root/ab/ab12...ef/         a bundle directory
    root/blobs/cd/cd34...01    a single file
    root/.tmp/                 writes in progress (and their .lock files)

An fsspec (S3-compatible) backend is future work; it will implement the same four methods.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: leftovers are then removed by age only (purge_incomplete)
    fcntl = None  # type: ignore[assignment]

from medmaas.durable import fsync_dir
from medmaas.exceptions import IntegrityError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_TMP = ".tmp"
_BLOBS = "blobs"
_LOCK = ".lock"


def _check_sha(sha: str) -> str:
    if not isinstance(sha, str) or not _SHA256.match(sha):
        raise InvalidInputError(f"artifact id must be 64 lowercase hex characters; got {sha!r}")
    return sha


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


@dataclass(frozen=True, slots=True)
class TempEntry:
    """A temporary write under ``root/.tmp``: ``locked`` is True while its writer is alive,
    False once it died (the entry is left over), None when that cannot be told (no lock file)."""

    name: str
    locked: bool | None
    age_s: float


class ArtifactStore:
    """Local content-addressed storage under ``root``.

    >>> import tempfile, pathlib
    >>> store = ArtifactStore(pathlib.Path(tempfile.mkdtemp()))
    >>> sha = store.put_bytes(b"hello")
    >>> store.get_bytes(sha)
    b'hello'
    """

    def __init__(self, root: Path, *, recover: bool = True) -> None:
        self.root = Path(root)
        #: What :meth:`recover` removed when the store was opened (names under ``.tmp``);
        #: ``recover=False`` opens it as found, for a check that must change nothing.
        self.recovered: list[str] = []
        try:
            if recover:
                self.recovered = self.recover()
        except OSError as exc:  # e.g. a read-only mount: reading still works
            logger.warning("could not remove leftovers of unfinished writes under %s: %s",
                           self.root / _TMP, exc)

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
        with self._tmp_entry() as tmp:
            tmp.mkdir()
            hasher = _DirHasher()
            for relpath, file in files:
                target = tmp / relpath
                target.parent.mkdir(parents=True, exist_ok=True)
                hasher.add(relpath, _copy_and_hash(file, target))
            for directory in sorted({(tmp / rel).parent for rel, _ in files}, reverse=True):
                fsync_dir(directory)
            sha = hasher.hexdigest()
            self._publish(tmp, self.dir_path(sha))
            return sha

    def get_dir(self, sha: str) -> Path:
        """The path of a stored directory; NotFoundError if there is none."""
        path = self.dir_path(_check_sha(sha))
        if not path.is_dir():
            raise NotFoundError(f"artifact {sha} not found in {self.root}")
        return path

    def verify(self, sha: str) -> None:
        """Re-hash a stored directory; IntegrityError if its content no longer matches its name."""
        actual = hash_dir(self.get_dir(sha))
        if actual != sha:
            raise IntegrityError(f"artifact {sha} is corrupted: its files now hash to {actual}")

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """An empty working directory under ``.tmp`` for building what will be stored here (a
        bundle being trained), on the store's own disk rather than the system's /tmp.

        It is removed when the block ends; if the process is killed first, the next opening of
        the store removes it (:meth:`recover`), as it does an interrupted write."""
        with self._tmp_entry() as tmp:
            tmp.mkdir()
            yield tmp

    # -- single files ------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store one file's bytes and return their sha256; storing them again is a no-op."""
        sha = hashlib.sha256(data).hexdigest()
        target = self._blob_path(sha)
        if target.exists():
            return sha
        with self._tmp_entry() as tmp:
            with open(tmp, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            fsync_dir(target.parent)
        return sha

    def delete_bytes(self, sha: str) -> bool:
        """Remove a stored file; whether it was there. Only for files nothing else can share: a
        dataset's ciphertext, unique to its upload (its data key and nonce are random)."""
        path = self._blob_path(_check_sha(sha))
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

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

    def recover(self) -> list[str]:
        """Remove what killed writers left under ``.tmp``; the names removed, oldest first.

        Opening the store does this (as SQLite rolls back a hot journal on open), so every
        start of a server or a CLI command after a crash finds the store clean. An entry goes
        only once its lock can be taken, that is once no process holds it: writes in progress,
        in this process or any other, are left alone however old they are. Entries without a
        lock file (an older writer, or a platform without ``flock``) go by age, as
        :meth:`purge_incomplete` removes them.
        """
        removed: list[str] = []
        for entry in self.temp_entries():
            if entry.locked is not False:
                continue
            with self._locked(entry.name) as lock:
                if lock is None:  # a live writer holds it (or it is already gone)
                    continue
                # Data first, then the lock file: a leftover lock file alone is recovered next
                # time, while data without its lock file would only go by age.
                _remove(self.root / _TMP / entry.name)
                (self.root / _TMP / f"{entry.name}{_LOCK}").unlink(missing_ok=True)
            removed.append(entry.name)
            logger.warning("removed %s/%s, left by a write that did not finish (its process died)",
                           _TMP, entry.name)
        self.purge_incomplete()
        return removed

    def temp_entries(self) -> list[TempEntry]:
        """Every temporary write under ``.tmp``, live or abandoned, oldest first; changes nothing."""
        tmp_root = self.root / _TMP
        try:
            names = os.listdir(tmp_root)
        except FileNotFoundError:
            return []
        now = time.time()
        found: dict[str, TempEntry] = {}
        for name in names:
            base = name[: -len(_LOCK)] if name.endswith(_LOCK) else name
            if base in found:
                continue
            lock_file = tmp_root / f"{base}{_LOCK}"
            times = [t for t in (_mtime(tmp_root / base), _mtime(lock_file)) if t is not None]
            if not times:  # both went away since the listing: the write finished
                continue
            mtime = min(times)
            if fcntl is None or _mtime(lock_file) is None:
                locked = None
            else:
                with self._locked(base) as lock:
                    locked = lock is None
            found[base] = TempEntry(name=base, locked=locked, age_s=max(0.0, now - mtime))
        return sorted(found.values(), key=lambda entry: -entry.age_s)

    def purge_incomplete(self, older_than_s: float = 3600.0) -> int:
        """Remove temporary entries without a lock file older than ``older_than_s``; how many.

        For leftovers that :meth:`recover` cannot judge (no lock file). Only old entries go, so
        a write in progress by a writer that does not lock is left alone.
        """
        tmp_root = self.root / _TMP
        if not tmp_root.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in tmp_root.iterdir():
            try:
                if entry.name.endswith(_LOCK) or (tmp_root / f"{entry.name}{_LOCK}").exists():
                    continue
                if entry.lstat().st_mtime >= cutoff:
                    continue
                _remove(entry)
                removed += 1
            except FileNotFoundError:
                continue
        return removed

    # -- internals ---------------------------------------------------------------------------

    def dir_path(self, sha: str) -> Path:
        """Where the directory ``sha`` is stored, whether it is there or not."""
        return self.root / sha[:2] / sha

    def _blob_path(self, sha: str) -> Path:
        return self.root / _BLOBS / sha[:2] / sha

    @contextlib.contextmanager
    def _tmp_entry(self) -> Iterator[Path]:
        """A fresh path under ``.tmp`` whose lock this process holds until the block ends; what
        is still at the path then is removed."""
        tmp_root = self.root / _TMP
        tmp_root.mkdir(parents=True, exist_ok=True)
        if fcntl is None:
            tmp = tmp_root / f"{os.getpid()}-{uuid.uuid4().hex}"
            try:
                yield tmp
            finally:
                _remove(tmp)
            return
        while True:
            name = f"{os.getpid()}-{uuid.uuid4().hex}"
            lock_file = tmp_root / f"{name}{_LOCK}"
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, lock_file):
                break
            # A recovery took the lock between our create and our flock and removed the file:
            # the lock we hold now guards nothing. Start again under a new name.
            os.close(fd)
        tmp = tmp_root / name
        try:
            yield tmp
        finally:
            try:
                _remove(tmp)
            finally:
                # Unlinked while still locked: nobody can take a lock on it before it is gone.
                lock_file.unlink(missing_ok=True)
                os.close(fd)

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[int | None]:
        """Hold the lock of temporary entry ``name`` if nobody does: the descriptor, or None if
        someone holds it or its lock file is gone."""
        lock_file = self.root / _TMP / f"{name}{_LOCK}"
        try:
            try:
                fd = os.open(lock_file, os.O_RDWR | os.O_CLOEXEC)
            except PermissionError:  # another user's write: reading is enough to lock, locally
                fd = os.open(lock_file, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            # The file may have been removed and recreated since we opened it.
            yield fd if _same_file(fd, lock_file) else None
        finally:
            os.close(fd)

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
        fsync_dir(target.parent)


def _mtime(path: Path) -> float | None:
    try:
        return path.lstat().st_mtime
    except FileNotFoundError:
        return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _remove(path: Path) -> None:
    """Remove a file or a directory tree (stored files are read-only; their directory is not)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


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
