"""Stored datasets, encrypted at rest: the ciphertext is an artifact blob, the record holds the
wrapped data key and sizes, nothing that is patient data (no column names, no file name).

A dataset belongs to a project; another project's dataset is answered as unknown. Writes are
ordered so that a crash leaves nothing half-stored: the ciphertext blob is written (atomically)
before the record that points at it, and a record is only ever deleted (its ciphertext after
it), never rewritten in place except by key rotation, which swaps the wrapped key in one
transaction per dataset.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from medmaas.exceptions import ConflictError, NotFoundError
from medmaas.registry.core import Registry
from medmaas.registry.refs import ensure_project
from medmaas.registry.tables import Dataset
from medmaas.registry.validation import check_name, check_text
from medmaas.security.encryption import Keyring


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    name: str
    project: str
    media_type: str
    sha256: str  # of the plaintext: what an audit event or a training run cites
    size_bytes: int
    rows: int | None
    columns: int | None
    kek_id: str
    created_at: datetime
    created_by: str
    encrypted: bool = True


class DatasetStore:
    """Put, read, list, delete and rekey the datasets of each project."""

    def __init__(self, registry: Registry, keyring: Keyring) -> None:
        self.registry = registry
        self.keyring = keyring

    def put(self, project: str, name: str, data: bytes, *, media_type: str, created_by: str,
            rows: int | None = None, columns: int | None = None) -> DatasetInfo:
        """Encrypt and store ``data`` as dataset ``name``; a name already taken is a conflict
        (delete it first: nothing stored is ever overwritten)."""
        check_name(project, "project name")
        check_name(name, "dataset name")
        check_text(created_by, "created_by")
        uid = secrets.token_hex(16)
        # Checked before sealing too, so a taken name costs no encryption and leaves no blob;
        # the check inside the write transaction is the one that holds against a race.
        if self._find(project, name) is not None:
            raise _taken(name)
        sealed = self.keyring.seal(data, _context(project, uid))
        blob = self.registry.store.put_bytes(sealed.ciphertext)
        try:
            with self.registry.session(write=True) as s:
                ensure_project(s, project)
                if s.scalar(select(Dataset.id).where(Dataset.project == project, Dataset.name == name)):
                    raise _taken(name)
                row = Dataset(uid=uid, project=project, name=name, media_type=media_type,
                              plaintext_sha256=hashlib.sha256(data).hexdigest(), ciphertext_sha256=blob,
                              size_bytes=len(data), rows=rows, columns=columns, kek_id=sealed.kek_id,
                              wrapped_key=sealed.wrapped_key, created_by=created_by)
                s.add(row)
                s.flush()
                return _info(row)
        except BaseException:
            # Not recorded (a concurrent upload took the name, the database failed): the
            # ciphertext's key exists nowhere, so the blob is only dead weight.
            self.registry.store.delete_bytes(blob)
            raise

    def get(self, project: str, name: str) -> DatasetInfo:
        return _info(self._row(project, name))

    def read(self, project: str, name: str) -> bytes:
        """The plaintext, decrypted and authenticated (IntegrityError if anything changed)."""
        return self.open(project, name)[1]

    def open(self, project: str, name: str) -> tuple[DatasetInfo, bytes]:
        """The dataset's details and its plaintext, from one lookup."""
        row = self._row(project, name)
        ciphertext = self.registry.store.get_bytes(row.ciphertext_sha256)
        return _info(row), self.keyring.open(ciphertext, row.wrapped_key, row.kek_id, _context(project, row.uid))

    def list(self, project: str) -> list[DatasetInfo]:
        with self.registry.session() as s:
            rows = s.scalars(select(Dataset).where(Dataset.project == project).order_by(Dataset.name))
            return [_info(r) for r in rows]

    def delete(self, project: str, name: str) -> DatasetInfo:
        """Forget the dataset: its wrapped data key goes with the record (cryptographic erase)."""
        with self.registry.session(write=True) as s:
            row = s.scalar(select(Dataset).where(Dataset.project == project, Dataset.name == name))
            if row is None:
                raise NotFoundError(f"dataset '{name}' not found")
            info, blob = _info(row), row.ciphertext_sha256
            s.delete(row)
        # After the commit: the key is gone, so the ciphertext is unreadable already; removing
        # it returns the space. A crash in between leaves only unreadable bytes.
        self.registry.store.delete_bytes(blob)
        return info

    def rewrap_all(self) -> int:
        """Re-wrap every data key not under the keyring's current KEK; how many were."""
        done = 0
        with self.registry.session() as s:
            stale = list(s.scalars(select(Dataset.id).where(Dataset.kek_id != self.keyring.current)))
        for row_id in stale:
            with self.registry.session(write=True) as s:
                row = s.get(Dataset, row_id)
                if row is None or row.kek_id == self.keyring.current:
                    continue  # deleted or rewrapped meanwhile
                row.wrapped_key, row.kek_id = self.keyring.rewrap(
                    row.wrapped_key, row.kek_id, _context(row.project, row.uid))
                done += 1
        return done

    def kek_ids_in_use(self) -> set[str]:
        with self.registry.session() as s:
            return set(s.scalars(select(Dataset.kek_id).distinct()))

    def _row(self, project: str, name: str) -> Dataset:
        row = self._find(project, name)
        if row is None:
            raise NotFoundError(f"dataset '{name}' not found")
        return row

    def _find(self, project: str, name: str) -> Dataset | None:
        with self.registry.session() as s:
            row = s.scalar(select(Dataset).where(Dataset.project == project, Dataset.name == name))
            if row is not None:
                s.expunge(row)
            return row


def _taken(name: str) -> ConflictError:
    return ConflictError(f"dataset '{name}' already exists; delete it first to replace it")


def _context(project: str, uid: str) -> str:
    return f"medmaas-dataset:{project}:{uid}"


def _info(row: Dataset) -> DatasetInfo:
    return DatasetInfo(name=row.name, project=row.project, media_type=row.media_type,
                       sha256=row.plaintext_sha256, size_bytes=row.size_bytes, rows=row.rows,
                       columns=row.columns, kek_id=row.kek_id, created_at=row.created_at,
                       created_by=row.created_by)
