"""Service settings: one pydantic-settings model read from ``MEDMAAS_*`` variables.

The library never reads the environment by itself; the CLI and the app build a ``Settings``
once and pass it down.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from medmaas.exceptions import IntegrityError, InvalidInputError

if TYPE_CHECKING:
    from medmaas.security.encryption import Keyring

SECRET_FILE = "server.secret"
#: The shortest server secret accepted: from the setting in production, and from the file always
#: (a generated one has 64).
MIN_SECRET_CHARS = 32


class Settings(BaseSettings):
    """Everything the service needs to start; each field is ``MEDMAAS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MEDMAAS_", extra="ignore")

    home: Path = Field(default=Path(".medmaas"), description="data directory: registry, artifacts, secret")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite under home if unset")
    secret_key: str | None = Field(
        default=None,
        description="server secret for keyed key hashes; generated into home/server.secret if unset",
    )
    dataset_keys: SecretStr | None = Field(
        default=None,
        description="dataset key-encryption keys, id:base64key[,id:base64key] (the last encrypts); "
                    "home/dataset.keys if unset (generated on first use outside production)",
    )
    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_rows: int = Field(default=10_000, ge=1)
    cors_origins: list[str] = Field(default_factory=list)
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    log_level: str = "INFO"
    # Serving: see medmaas.runtime.batcher and medmaas.runtime.cache.
    # 0 by default: requests that arrive together, or while the model is busy, are joined
    # anyway; waiting for more cost throughput in every measurement (see runtime/batcher.py).
    batch_window_ms: float = Field(default=0.0, ge=0, le=50, description="longest a request waits for a batch to fill, under concurrency only")
    batch_max_rows: int = Field(default=256, ge=1, description="rows per inference call at most (bigger requests run alone)")
    batch_queue_rows: int = Field(default=8192, ge=1, description="rows waiting per model before requests get 503 + Retry-After")
    # Per API key (medmaas.security.ratelimit); 0 turns limiting off, e.g. for load tests.
    rate_limit_per_s: float = Field(default=50.0, ge=0, description="requests per second each API key may make on average (0: no limit)")
    rate_limit_burst: int = Field(default=100, ge=1, description="requests each API key may make at once before the rate applies")
    model_idle_unload_s: float = Field(default=3600, ge=0, description="unload a model version unused this long (0: never)")

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key is not None and len(self.secret_key) < MIN_SECRET_CHARS:
            raise ValueError(f"MEDMAAS_SECRET_KEY must be at least {MIN_SECRET_CHARS} characters in production")
        return self

    @property
    def sqlite_path(self) -> Path:
        return self.home / "registry.db"

    @property
    def artifact_root(self) -> Path:
        return self.home / "artifacts"

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    def dataset_keyring(self) -> Keyring:
        """The keys that encrypt stored datasets (see ``medmaas.security.encryption``)."""
        from medmaas.security.encryption import Keyring

        return Keyring.load(self.home, self.dataset_keys.get_secret_value() if self.dataset_keys else None,
                            production=self.environment == "production")

    def resolved_secret(self) -> bytes:
        """The server secret: from the setting, else from home/server.secret, created once (0600)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.home / SECRET_FILE
        if not path.exists():
            if self.environment == "production":
                raise InvalidInputError("set MEDMAAS_SECRET_KEY in production; refusing to generate one")
            from medmaas.security.private_files import create_private

            # Published whole or not at all: two processes starting at once must not each use
            # a different secret, and none may read it half-written.
            create_private(path, secrets.token_hex(32))
        secret = path.read_text().strip()
        if len(secret) < MIN_SECRET_CHARS:
            raise IntegrityError(f"{path} holds {len(secret)} characters, not a secret of at least {MIN_SECRET_CHARS} "
                             "(was it truncated or edited?); restore it from a backup, or delete it and "
                             "create new API keys (`medmaas keys create`): keys made under another secret stop working")
        return secret.encode()
