"""The registry: models, versions, stages and aliases over SQLAlchemy, bundles on disk.

>>> from medmaas.registry import Registry  # doctest: +SKIP
>>> registry = Registry.open(settings)  # doctest: +SKIP
>>> registry.resolve("sepsis-risk")  # production version, else the latest  # doctest: +SKIP
"""

from __future__ import annotations

from medmaas.registry.core import Registry
from medmaas.registry.info import (
    AliasInfo,
    Headline,
    JobInfo,
    ModelInfo,
    StageEventInfo,
    VersionInfo,
)
from medmaas.registry.store import ArtifactStore, hash_dir
from medmaas.registry.tables import DEFAULT_PROJECT, JOB_STATUSES, STAGES

__all__ = [
    "DEFAULT_PROJECT",
    "JOB_STATUSES",
    "STAGES",
    "AliasInfo",
    "ArtifactStore",
    "Headline",
    "JobInfo",
    "ModelInfo",
    "Registry",
    "StageEventInfo",
    "VersionInfo",
    "hash_dir",
]
