"""Is the data directory whole? The checks an operator runs after a crash, a restore or a move.

Every bundle a version refers to must be in the artifact store and still hash to its name; no
write may have been left half-done (a temporary entry whose writer died, a ``*.tmp`` file); the
SQLite database must pass its own quick check. Problems name paths relative to the data
directory and models by name and version, never anything a bundle or a request held.

Opening a store already removes what killed writers left (:meth:`ArtifactStore.recover`), so a
leftover found here is one nothing could remove: a lock file that could not be deleted, an
entry a writer without locks left over an hour ago, a temporary file outside the store.

>>> from medmaas.registry.integrity import find_problems  # doctest: +SKIP
>>> find_problems(registry, settings.home)  # doctest: +SKIP
[]
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, text

from medmaas.exceptions import InvalidInputError
from medmaas.registry.store import hash_dir
from medmaas.registry.tables import Model, ModelVersion

if TYPE_CHECKING:
    from medmaas.registry.core import Registry

#: What a temporary file looks like wherever a writer puts one (``.name.XXXX.tmp`` included).
TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial")
#: A temporary entry without a lock file may belong to a writer that does not lock; only this
#: old is it surely left over (the store's own ``purge_incomplete`` waits as long).
UNLOCKED_TEMP_AGE_S = 3600.0
_SECRET_FILE = "server.secret"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong: ``kind`` (``missing-artifact``, ``hash-mismatch``, ``orphaned-temp``,
    ``empty-secret``, ``database``), the ``path`` it concerns relative to the data directory,
    and what is wrong in words."""

    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}: {self.message}"


def find_problems(registry: Registry, home: Path) -> list[Problem]:
    """Everything wrong with the registry's artifacts and the data directory ``home``; changes
    nothing. An empty list means every referenced bundle is present and intact, and no write
    was left half-done.

    Re-hashes every referenced bundle once (each distinct bundle, however many versions share
    it), so it reads the whole store: seconds for tabular models, longer for many image models.
    """
    home = Path(home)
    problems = _database_problems(registry, home)
    problems += artifact_problems(registry, home)
    problems += temp_problems(registry, home)
    secret = home / _SECRET_FILE
    if secret.is_file() and not secret.read_text().strip():
        problems.append(Problem("empty-secret", _rel(secret, home),
                                "the server secret is empty (a first start was killed while writing it); "
                                "API keys cannot be checked against it: remove it and create the keys again"))
    return problems


def artifact_problems(registry: Registry, home: Path) -> list[Problem]:
    """Bundles that versions refer to but that are missing or no longer match their sha256."""
    refs: dict[str, list[str]] = defaultdict(list)
    with registry.session() as s:
        rows = s.execute(
            select(ModelVersion.bundle_sha256, Model.project, Model.name, ModelVersion.version)
            .join(Model, Model.id == ModelVersion.model_id)
            .order_by(Model.project, Model.name, ModelVersion.version)
        ).all()
    for sha, project, name, version in rows:
        refs[sha].append(f"{name}:{version}" if project == "default" else f"{project}/{name}:{version}")
    problems = []
    for sha, users in refs.items():
        path = registry.store.dir_path(sha)
        who = users[0] if len(users) == 1 else f"{users[0]} and {len(users) - 1} other version(s)"
        if not path.is_dir():
            problems.append(Problem("missing-artifact", _rel(path, home),
                                    f"the bundle of {who} is missing from the artifact store"))
            continue
        try:
            actual = hash_dir(path)
        except (OSError, InvalidInputError) as exc:
            problems.append(Problem("hash-mismatch", _rel(path, home),
                                    f"the bundle of {who} cannot be read back: {_reason(exc)}"))
            continue
        if actual != sha:
            problems.append(Problem("hash-mismatch", _rel(path, home),
                                    f"the bundle of {who} was changed: its files hash to {actual}, "
                                    f"not to the {sha} it is stored under"))
    return problems


def temp_problems(registry: Registry, home: Path) -> list[Problem]:
    """Temporary entries whose writer is gone, in the artifact store and in ``home``."""
    store = registry.store
    problems = []
    for entry in store.temp_entries():
        path = _rel(store.root / ".tmp" / entry.name, home)
        if entry.locked is False:
            problems.append(Problem("orphaned-temp", path,
                                    "left by a write whose process died; opening the store removes it"))
        elif entry.locked is None and entry.age_s > UNLOCKED_TEMP_AGE_S:
            problems.append(Problem("orphaned-temp", path,
                                    f"a write without a lock file, untouched for {entry.age_s / 3600:.1f} h"))
    for dirpath, dirnames, filenames in os.walk(home):
        base = Path(dirpath)
        # The store's content is covered by its hashes and its .tmp by the entries above.
        dirnames[:] = [d for d in dirnames if base / d != store.root]
        for name in filenames:
            if name.endswith(TEMP_SUFFIXES):
                problems.append(Problem("orphaned-temp", _rel(base / name, home),
                                        "a temporary file that was never renamed into place"))
    return problems


def unreferenced_bundles(registry: Registry) -> list[str]:
    """Stored bundles no version refers to: left by registrations that stopped between storing
    the bundle and recording the version. Harmless (the name is the content, so registering it
    again reuses it), only disk space; not a problem."""
    with registry.session() as s:
        used = set(s.scalars(select(ModelVersion.bundle_sha256).distinct()))
    root = registry.store.root
    found = []
    for prefix in sorted(os.listdir(root)) if root.is_dir() else []:
        if len(prefix) != 2 or not (root / prefix).is_dir():
            continue
        found += [sha for sha in sorted(os.listdir(root / prefix)) if sha.startswith(prefix) and sha not in used]
    return found


def _database_problems(registry: Registry, home: Path) -> list[Problem]:
    if registry.engine.dialect.name != "sqlite":
        return []
    with registry.engine.connect() as conn:
        result = [row[0] for row in conn.execute(text("PRAGMA quick_check"))]
    if result == ["ok"]:
        return []
    database = registry.engine.url.database or ""
    return [Problem("database", _rel(Path(database), home), f"SQLite quick_check: {'; '.join(result[:5])}")]


def _rel(path: Path, home: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), home.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_posix()


def _reason(exc: Exception) -> str:
    # Not str(exc): that names absolute paths.
    if isinstance(exc, OSError):
        where = f" ({Path(exc.filename).name})" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}"
    return "it holds a link or a special file, which a stored bundle never does"
