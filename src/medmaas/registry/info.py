"""What the registry hands out: frozen snapshots, never live ORM rows.

A snapshot can cross threads, be cached and be serialised by the API without touching the
database again. The JSON payloads (metrics, spec, card, detail) are the caller's own copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Headline:
    """The one metric a catalog shows for a version, e.g. AUROC 0.91 (0.88-0.94)."""

    name: str
    value: float
    ci: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One registered version of a model and everything needed to serve or show it."""

    model_name: str
    project: str
    version: int
    kind: str
    task: str
    bundle_sha256: str
    stage: str
    created_at: datetime
    created_by: str
    metrics: dict[str, Any] = field(hash=False)
    headline: Headline | None
    spec: dict[str, Any] = field(hash=False)
    card: dict[str, Any] = field(hash=False)
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``name:version``, the form the CLI and logs use."""
        return f"{self.model_name}:{self.version}"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model as the catalog lists it: its latest and serving versions at a glance."""

    name: str
    project: str
    kind: str
    task: str
    description: str
    created_at: datetime
    created_by: str
    version_count: int
    latest_version: int | None
    production_version: int | None
    staging_version: int | None
    headline: Headline | None  # of the production version if any, else of the latest
    #: the last registration or stage change of any of its versions
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StageEventInfo:
    """One stage change: together these say which version served when, and who decided."""

    model_name: str
    version: int
    from_stage: str | None
    to_stage: str
    actor: str
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class AliasInfo:
    model_name: str
    alias: str
    version: int
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A build job (e.g. a built-in model being trained) and how far it got."""

    id: int
    project: str
    name: str
    status: str
    progress: float
    message: str
    model_name: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
