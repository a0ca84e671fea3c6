"""Turning rows into the frozen snapshots the registry hands out, and parsing a headline.

Split from :mod:`medmaas.registry.core` so the registry's operations read top to bottom without
the bookkeeping of building :class:`VersionInfo` and :class:`ModelInfo`.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medmaas.exceptions import InvalidInputError
from medmaas.registry.info import AliasInfo, Headline, ModelInfo, VersionInfo
from medmaas.registry.refs import headline_of
from medmaas.registry.tables import Alias, Model, ModelVersion, StageEvent, utcnow


def parse_headline(headline: dict[str, Any] | None) -> Headline | None:
    if headline is None:
        return None
    if not isinstance(headline, dict):
        raise InvalidInputError("headline must be an object like {'name': 'auroc', 'value': 0.9}")
    name = headline.get("name")
    value = headline.get("value")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"headline name must be a non-empty string; got {name!r}")
    if not is_finite_number(value):
        raise InvalidInputError(f"headline value must be a finite number; got {value!r}")
    ci = headline.get("ci")
    if ci is not None:
        if (
            not isinstance(ci, list | tuple)
            or len(ci) != 2
            or not all(is_finite_number(v) for v in ci)
            or ci[0] > ci[1]
        ):
            raise InvalidInputError(f"headline ci must be [low, high] with low <= high; got {ci!r}")
        return Headline(name, float(value), (float(ci[0]), float(ci[1])))
    return Headline(name, float(value))


def is_finite_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def stage_event(
    model: Model, version: int, from_stage: str | None, to_stage: str, actor: str, reason: str
) -> StageEvent:
    return StageEvent(
        model_id=model.id,
        version=version,
        from_stage=from_stage,
        to_stage=to_stage,
        actor=actor,
        at=utcnow(),
        reason=reason,
    )


def aliases_by_version(session: Session, model_id: int) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for alias, version in session.execute(
        select(Alias.alias, Alias.version).where(Alias.model_id == model_id).order_by(Alias.alias)
    ):
        found.setdefault(version, []).append(alias)
    return {version: tuple(names) for version, names in found.items()}


def version_info(
    session: Session,
    model: Model,
    row: ModelVersion,
    aliases: dict[int, tuple[str, ...]] | None = None,
) -> VersionInfo:
    if aliases is None:
        aliases = aliases_by_version(session, model.id)
    return VersionInfo(
        model_name=model.name,
        project=model.project,
        version=row.version,
        kind=model.kind,
        task=model.task,
        bundle_sha256=row.bundle_sha256,
        stage=row.stage,
        created_at=row.created_at,
        created_by=row.created_by,
        metrics=dict(row.metrics),
        headline=headline_of(
            row.headline_name, row.headline_value, row.headline_ci_low, row.headline_ci_high
        ),
        spec=dict(row.spec),
        card=dict(row.card),
        aliases=aliases.get(row.version, ()),
    )


def alias_info(model: Model, row: Alias) -> AliasInfo:
    return AliasInfo(
        model_name=model.name,
        alias=row.alias,
        version=row.version,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def model_infos(session: Session, models: list[Model]) -> list[ModelInfo]:
    if not models:
        return []
    by_model: dict[int, list[Any]] = {model.id: [] for model in models}
    rows = session.execute(
        select(
            ModelVersion.model_id,
            ModelVersion.version,
            ModelVersion.stage,
            ModelVersion.headline_name,
            ModelVersion.headline_value,
            ModelVersion.headline_ci_low,
            ModelVersion.headline_ci_high,
        )
        .where(ModelVersion.model_id.in_(list(by_model)))
        .order_by(ModelVersion.version)
    )
    for row in rows:
        by_model[row.model_id].append(row)
    # Registrations are stage events too (to candidate): the newest event is the last change.
    changed = dict(session.execute(
        select(StageEvent.model_id, func.max(StageEvent.at))
        .where(StageEvent.model_id.in_(list(by_model))).group_by(StageEvent.model_id)
    ).all())
    infos = []
    for model in models:
        versions = by_model[model.id]
        latest = versions[-1] if versions else None
        production = next((v for v in versions if v.stage == "production"), None)
        staging = next((v for v in versions if v.stage == "staging"), None)
        shown = production or latest
        infos.append(
            ModelInfo(
                name=model.name,
                project=model.project,
                kind=model.kind,
                task=model.task,
                description=model.description,
                created_at=model.created_at,
                created_by=model.created_by,
                version_count=len(versions),
                latest_version=latest.version if latest else None,
                production_version=production.version if production else None,
                staging_version=staging.version if staging else None,
                headline=headline_of(*shown[3:7]) if shown else None,
                updated_at=changed.get(model.id),
            )
        )
    return infos
