"""Shared CLI plumbing: settings, the registry, output as tables or JSON, and error handling."""

from __future__ import annotations

import getpass
import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from medmaas.settings import Settings

if TYPE_CHECKING:
    from medmaas.audit import AuditLog
    from medmaas.registry import Registry
    from medmaas.security.keys import KeyStore

console = Console()
err_console = Console(stderr=True)


class Context:
    """Opened lazily, so ``medmaas --help`` touches no database."""

    def __init__(self, home: Path | None, project: str = "default") -> None:
        self.settings = Settings(home=home) if home is not None else Settings()
        #: the project (tenant) the command acts in
        self.project = project

    @cached_property
    def registry(self) -> Registry:
        from medmaas.registry import Registry

        return Registry.open(self.settings)

    @cached_property
    def audit(self) -> AuditLog:
        from medmaas.audit import AuditLog

        return AuditLog(self.registry)

    @cached_property
    def keys(self) -> KeyStore:
        from medmaas.security.keys import KeyStore

        return KeyStore(self.registry, self.settings.resolved_secret())

    @property
    def actor(self) -> str:
        """Local CLI use has filesystem access to the registry; it acts as that OS user."""
        return f"local:{getpass.getuser()}"


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def configure_logging(level: str = "WARNING") -> None:
    from medmaas.logs import configure

    configure(level)
