"""API keys: random, high-entropy, stored only as keyed hashes, checked in microseconds.

A key reads ``mm_<key_id>_<secret>``. The key id is public (it names the key in lists and audit
events); the secret is 32 random bytes and is stored only as HMAC-SHA-256 under the server
secret, so a copy of the database alone cannot be turned back into working keys. A slow
password hash (argon2) buys nothing for 256-bit random secrets and would cost every request.

Successful verifications are cached in memory for ``cache_ttl_s`` (30 s) so the hot path is one
HMAC and a dict lookup. Revoking a key clears it from this process's cache at once; another
process may accept it until its own cache entry expires.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import logging
import re
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from medmaas.exceptions import AuthenticationError, InvalidInputError, NotFoundError
from medmaas.registry import Registry
from medmaas.registry.db import advisory_lock
from medmaas.registry.refs import ensure_project
from medmaas.registry.tables import DEFAULT_PROJECT, ApiKey, utcnow
from medmaas.registry.validation import check_name, check_text
from medmaas.security.permissions import check_role

logger = logging.getLogger(__name__)

#: A hook that writes, in a key change's transaction, what must land with it.
Record = Callable[[Connection, "KeyInfo"], object]

KEY_ID_LENGTH = 10
_KEY_ID_ALPHABET = string.ascii_lowercase + string.digits  # no '_': it separates the parts
_KEY = re.compile(r"^mm_([a-z0-9]{8,12})_([A-Za-z0-9_-]{32,128})$")
_BOOTSTRAP_LOCK = "medmaas.keys.bootstrap"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: what a verified key grants. Routes pass this to ``require``."""

    key_id: str
    name: str
    role: str
    project: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as listed: never its secret."""

    key_id: str
    name: str
    role: str
    project: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None

    @property
    def display(self) -> str:
        """How to show the key to a human: the public part only."""
        return f"mm_{self.key_id}_…"


@dataclass(frozen=True, slots=True)
class _Cached:
    digest: str
    principal: Principal
    expires_at: datetime | None
    fresh_until: float


class KeyStore:
    """Create, verify, list and revoke API keys.

    >>> keys = KeyStore(registry, settings.resolved_secret())  # doctest: +SKIP
    >>> plaintext, info = keys.create("ward-7 app", "clinician", created_by="admin")  # doctest: +SKIP
    >>> keys.verify(plaintext).role  # doctest: +SKIP
    'clinician'
    """

    def __init__(
        self,
        registry: Registry,
        server_secret: bytes,
        *,
        cache_ttl_s: float = 30.0,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(server_secret, bytes) or len(server_secret) < 16:
            raise ValueError("server secret must be at least 16 bytes")
        self.registry = registry
        self._secret = server_secret
        self._ttl = cache_ttl_s
        self._cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[str, _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- issuing -----------------------------------------------------------------------------

    def create(
        self,
        name: str,
        role: str,
        created_by: str,
        project: str = DEFAULT_PROJECT,
        expires_at: datetime | None = None,
        record: Record | None = None,
    ) -> tuple[str, KeyInfo]:
        """A new key: its plaintext (show it once; it cannot be recovered) and its details.

        ``record(connection, info)`` writes what must land with the key (its audit event,
        ``AuditLog.recorder``) in the same transaction: if it fails, no key exists.
        """
        with self.registry.session(write=True) as s:
            plaintext, info = self._insert(s, name, role, created_by, project, expires_at)
            if record is not None:
                record(s.connection(), info)
            return plaintext, info

    def bootstrap_admin(self, created_by: str = "medmaas bootstrap", record: Record | None = None) -> str | None:
        """On first start, create the installation's first key (``sysadmin`` of the default
        project) and return its plaintext; later, ``None``.

        Runs under a lock, so two processes starting together cannot both create one.
        ``record`` is as for :meth:`create`: the key and its audit event land together.
        """
        with self.registry.session(write=True) as s:
            advisory_lock(s.connection(), _BOOTSTRAP_LOCK)
            if s.scalar(select(ApiKey.id).limit(1)) is not None:
                return None
            plaintext, info = self._insert(
                s, "bootstrap admin", "sysadmin", created_by, DEFAULT_PROJECT, None
            )
            if record is not None:
                record(s.connection(), info)
        logger.info("created bootstrap admin key %s", info.key_id)
        return plaintext

    # -- checking ----------------------------------------------------------------------------

    def verify(self, plaintext: str) -> Principal:
        """The principal a key stands for; AuthenticationError if it is unknown or unusable.

        The secret is checked before anything else is revealed: only the holder of a key
        learns that it is revoked or expired.
        """
        principal = self.verify_cached(plaintext)
        if principal is not None:
            return principal
        key_id, secret = _KEY.match(plaintext).groups()  # type: ignore[union-attr]
        digest = self._digest(secret)
        with self.registry.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
            if row is None or not hmac.compare_digest(row.hashed_secret, digest):
                raise AuthenticationError("invalid API key")
            if row.revoked_at is not None:
                raise AuthenticationError("API key revoked")
            if row.expires_at is not None and utcnow() >= row.expires_at:
                raise AuthenticationError("API key expired")
            principal = Principal(row.key_id, row.name, row.role, row.project)
            expires_at = row.expires_at
        self._touch(key_id)
        self._cache_put(key_id, _Cached(digest, principal, expires_at, self._clock() + self._ttl))
        return principal

    def verify_cached(self, plaintext: str) -> Principal | None:
        """:meth:`verify` from memory alone: the principal, or None when the database must be
        asked (not cached, or a secret that does not match the cached one). One HMAC and a
        dict lookup: what the serving path pays per request."""
        match = _KEY.match(plaintext) if isinstance(plaintext, str) else None
        if match is None:
            raise AuthenticationError("invalid API key")
        key_id, secret = match.groups()
        cached = self._cache_get(key_id)
        if cached is None or not hmac.compare_digest(cached.digest, self._digest(secret)):
            return None
        if cached.expires_at is not None and utcnow() >= cached.expires_at:
            self._forget(key_id)
            raise AuthenticationError("API key expired")
        return cached.principal

    # -- managing ----------------------------------------------------------------------------

    def revoke(self, key_id: str, actor: str, record: Record | None = None) -> KeyInfo:
        """Revoke a key for good; revoking it again changes nothing. ``record`` as for
        :meth:`create`: it runs in the revocation's transaction (also when nothing changes)."""
        check_text(actor, "actor")
        with self.registry.session(write=True) as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_id == key_id).with_for_update())
            if row is None:
                raise NotFoundError(f"API key '{key_id}' not found")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                s.flush()
                logger.info("API key %s revoked by %s", key_id, actor)
            info = _info(row)
            if record is not None:
                record(s.connection(), info)
        self._forget(key_id)
        return info

    def get(self, key_id: str) -> KeyInfo:
        with self.registry.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
            if row is None:
                raise NotFoundError(f"API key '{key_id}' not found")
            return _info(row)

    def list(self, project: str | None = None) -> builtins.list[KeyInfo]:
        """Every key (revoked ones included, for the record), oldest first."""
        query = select(ApiKey).order_by(ApiKey.id)
        if project is not None:
            query = query.where(ApiKey.project == project)
        with self.registry.session() as s:
            return [_info(row) for row in s.scalars(query)]

    # -- internals ---------------------------------------------------------------------------

    def _insert(
        self,
        session: Session,
        name: str,
        role: str,
        created_by: str,
        project: str,
        expires_at: datetime | None,
    ) -> tuple[str, KeyInfo]:
        check_text(name, "key name")
        check_role(role)
        check_text(created_by, "created_by")
        check_name(project, "project name")
        if expires_at is not None:
            if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
                raise InvalidInputError("expires_at must be a timezone-aware datetime")
            if expires_at <= utcnow():
                raise InvalidInputError(
                    f"expires_at must be in the future; got {expires_at.isoformat()}"
                )
        ensure_project(session, project)
        key_id = _new_key_id()
        while session.scalar(select(ApiKey.id).where(ApiKey.key_id == key_id)) is not None:
            key_id = _new_key_id()
        secret = secrets.token_urlsafe(32)
        row = ApiKey(
            key_id=key_id,
            name=name,
            role=role,
            project=project,
            hashed_secret=self._digest(secret),
            created_at=utcnow(),
            created_by=created_by,
            expires_at=expires_at,
        )
        session.add(row)
        session.flush()
        return f"mm_{key_id}_{secret}", _info(row)

    def _digest(self, secret: str) -> str:
        return hmac.new(self._secret, secret.encode(), hashlib.sha256).hexdigest()

    def _touch(self, key_id: str) -> None:
        # Bookkeeping only, at most once per cache period per key; a failure here must not
        # turn a valid key away, so it is logged rather than raised.
        try:
            with self.registry.session(write=True) as s:
                row = s.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
                if row is not None:
                    row.last_used_at = utcnow()
        except sa_exc.SQLAlchemyError:
            logger.warning("could not record last use of API key %s", key_id, exc_info=True)

    def _cache_get(self, key_id: str) -> _Cached | None:
        with self._cache_lock:
            entry = self._cache.get(key_id)
            if entry is None:
                return None
            if entry.fresh_until <= self._clock():
                del self._cache[key_id]
                return None
            self._cache.move_to_end(key_id)
            return entry

    def _cache_put(self, key_id: str, entry: _Cached) -> None:
        with self._cache_lock:
            self._cache[key_id] = entry
            self._cache.move_to_end(key_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _forget(self, key_id: str) -> None:
        with self._cache_lock:
            self._cache.pop(key_id, None)


def _new_key_id() -> str:
    return "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(
        key_id=row.key_id,
        name=row.name,
        role=row.role,
        project=row.project,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
    )
