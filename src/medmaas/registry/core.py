"""The model registry: which models exist, their versions, stages, aliases and history.

A version is a bundle (stored content-addressed, see :mod:`medmaas.registry.store`) plus the
rows that describe it. Registration stores the bundle first and then writes all rows in one
transaction: if the database part fails, nothing is half-written there, and the orphaned
artifact is harmless because its name is its content.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from medmaas.exceptions import (
    ConflictError,
    IntegrityError,
    InvalidInputError,
    NotFoundError,
)
from medmaas.registry import jobs
from medmaas.registry.db import make_engine, migrate, write_engine
from medmaas.registry.info import (
    AliasInfo,
    JobInfo,
    ModelInfo,
    StageEventInfo,
    VersionInfo,
)
from medmaas.registry.refs import (
    check_alias,
    ensure_project,
    find_model,
    find_version,
    project_exists,
)
from medmaas.registry.snapshots import (
    alias_info,
    aliases_by_version,
    model_infos,
    parse_headline,
    stage_event,
    version_info,
)
from medmaas.registry.store import ArtifactStore
from medmaas.registry.tables import (
    DEFAULT_PROJECT,
    EXCLUSIVE_STAGES,
    STAGES,
    Alias,
    Model,
    ModelVersion,
    Project,
    StageEvent,
    utcnow,
)
from medmaas.registry.validation import check_name, check_text, json_safe

if TYPE_CHECKING:
    from medmaas.settings import Settings

logger = logging.getLogger(__name__)

Ref = int | str | None
_REGISTER_ATTEMPTS = 3


class Registry:
    """Models, versions and stages over one database and one artifact root.

    >>> import tempfile, pathlib
    >>> home = pathlib.Path(tempfile.mkdtemp())
    >>> reg = Registry(f"sqlite:///{home}/r.db", home / "artifacts"); reg.migrate()
    >>> reg.list_models()
    []
    """

    def __init__(self, database_url: str, artifact_root: Path) -> None:
        self.database_url = database_url
        self.engine: Engine = make_engine(database_url)
        self.store = ArtifactStore(Path(artifact_root))
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine(self.engine), expire_on_commit=False)
        self._verified: set[str] = set()
        self._verified_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> Registry:
        """The registry a service or CLI uses: configured from settings, schema up to date."""
        settings.artifact_root.mkdir(parents=True, exist_ok=True)
        registry = cls(settings.resolved_database_url(), settings.artifact_root)
        registry.migrate()
        return registry

    def migrate(self) -> None:
        """Bring the schema to the newest revision shipped with this package."""
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        ``write=True`` takes the write lock up front (SQLite ``BEGIN IMMEDIATE``), which every
        read-then-write sequence needs to be safe against a concurrent writer.
        """
        maker = self._write if write else self._read
        with maker() as session, session.begin():
            yield session

    # -- registration ------------------------------------------------------------------------

    def register_version(
        self,
        name: str,
        bundle_dir: Path,
        *,
        kind: str,
        task: str,
        created_by: str,
        metrics: dict[str, Any],
        headline: dict[str, Any] | None = None,
        spec: dict[str, Any],
        card: dict[str, Any],
        description: str = "",
        project: str = DEFAULT_PROJECT,
        record: Callable[[Connection, VersionInfo], object] | None = None,
    ) -> VersionInfo:
        """Store a bundle and record it as the next version of ``name`` (stage ``candidate``).

        The model is created on its first version. Versions count 1, 2, 3... per model.
        ``record`` writes what must land with the version, in its transaction (see
        :meth:`promote`).
        """
        check_name(name)
        check_name(project, "project name")
        check_name(kind, "kind")
        check_name(task, "task")
        check_text(created_by, "created_by")
        if not isinstance(description, str):
            raise InvalidInputError(
                f"description must be a string; got {type(description).__name__}"
            )
        payloads = {
            "metrics": json_safe(metrics, "metrics"),
            "spec": json_safe(spec, "spec"),
            "card": json_safe(card, "card"),
        }
        for what, value in payloads.items():
            if not isinstance(value, dict):
                raise InvalidInputError(f"{what} must be a JSON object; got {type(value).__name__}")
        head = parse_headline(headline)
        sha = self.store.put_dir(bundle_dir)
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.session(write=True) as s:
                    ensure_project(s, project)
                    model = find_model(s, name, project, for_update=True, missing_ok=True)
                    if model is None:
                        model = Model(
                            project=project,
                            name=name,
                            kind=kind,
                            task=task,
                            description=description,
                            created_by=created_by,
                        )
                        s.add(model)
                        s.flush()
                    elif (model.kind, model.task) != (kind, task):
                        raise ConflictError(
                            f"model '{name}' is a {model.kind} {model.task} model; "
                            f"cannot add a {kind} {task} version to it"
                        )
                    elif description:
                        model.description = description
                    latest = s.scalar(
                        select(func.max(ModelVersion.version)).where(
                            ModelVersion.model_id == model.id
                        )
                    )
                    row = ModelVersion(
                        model_id=model.id,
                        version=(latest or 0) + 1,
                        bundle_sha256=sha,
                        stage="candidate",
                        created_at=utcnow(),
                        created_by=created_by,
                        headline_name=head.name if head else None,
                        headline_value=head.value if head else None,
                        headline_ci_low=head.ci[0] if head and head.ci else None,
                        headline_ci_high=head.ci[1] if head and head.ci else None,
                        **payloads,
                    )
                    s.add(row)
                    s.flush()
                    s.add(
                        stage_event(model, row.version, None, "candidate", created_by, "registered")
                    )
                    info = version_info(s, model, row)
                    if record is not None:
                        record(s.connection(), info)
            except sa_exc.IntegrityError as exc:
                # A concurrent writer created the same model or version number first; the
                # next attempt sees its row. Anything else keeps failing and is reported.
                logger.info("register_version retry %d for %s: %s", attempt, name, exc.orig)
                if attempt >= _REGISTER_ATTEMPTS:
                    raise ConflictError(
                        f"could not register a version of model '{name}': concurrent writes "
                        f"kept conflicting ({exc.orig})"
                    ) from exc
                continue
            logger.info("registered %s (bundle %s)", info.ref, sha[:12])
            return info

    # -- reading -----------------------------------------------------------------------------

    def list_models(self, project: str = DEFAULT_PROJECT) -> list[ModelInfo]:
        """Every model of ``project`` by name, with its latest and serving versions."""
        with self.session() as s:
            models = s.scalars(
                select(Model).where(Model.project == project).order_by(Model.name)
            ).all()
            return model_infos(s, list(models))

    def get_model(self, name: str, project: str = DEFAULT_PROJECT) -> ModelInfo:
        with self.session() as s:
            return model_infos(s, [find_model(s, name, project)])[0]

    def list_versions(self, name: str, project: str = DEFAULT_PROJECT) -> list[VersionInfo]:
        """All versions of a model, oldest first."""
        with self.session() as s:
            model = find_model(s, name, project)
            rows = s.scalars(
                select(ModelVersion)
                .where(ModelVersion.model_id == model.id)
                .order_by(ModelVersion.version)
            ).all()
            aliases = aliases_by_version(s, model.id)
            return [version_info(s, model, row, aliases) for row in rows]

    def resolve(self, name: str, ref: Ref = None, project: str = DEFAULT_PROJECT) -> VersionInfo:
        """The version ``ref`` names: a number, ``"latest"``, a stage, or an alias.

        ``None`` means the production version if there is one, else the latest — what a
        prediction without an explicit version should use. A stage that several versions hold
        (``candidate``, ``archived``) resolves to the newest of them.
        """
        with self.session() as s:
            model = find_model(s, name, project)
            return version_info(s, model, find_version(s, model, ref))

    def stage_history(self, name: str, project: str = DEFAULT_PROJECT) -> list[StageEventInfo]:
        """Every stage change of a model, oldest first: which version served when."""
        with self.session() as s:
            model = find_model(s, name, project)
            rows = s.scalars(
                select(StageEvent)
                .where(StageEvent.model_id == model.id)
                # Insertion order, not clock order: promotions of a model are serialised by a
                # row lock, while clocks of different hosts may disagree.
                .order_by(StageEvent.id)
            ).all()
            return [
                StageEventInfo(
                    model_name=model.name,
                    version=row.version,
                    from_stage=row.from_stage,
                    to_stage=row.to_stage,
                    actor=row.actor,
                    at=row.at,
                    reason=row.reason,
                )
                for row in rows
            ]

    # -- stages and aliases ------------------------------------------------------------------

    def promote(
        self,
        name: str,
        version: int | str,
        stage: str,
        actor: str,
        reason: str = "",
        project: str = DEFAULT_PROJECT,
        record: Callable[[Connection, VersionInfo], object] | None = None,
    ) -> VersionInfo:
        """Move a version to ``stage``; the previous production (or staging) one is archived.

        Both changes land in one transaction and both are recorded in the stage history.
        Promoting to the stage a version already holds changes nothing. Archived versions may
        return to production (a rollback); no version can go back to ``candidate``.

        ``record(connection, version)`` runs inside that transaction once the change is made,
        to write what must land with it (its audit event: ``AuditLog.append_in``); if it
        raises, nothing changes. It runs for a promotion that changes nothing too.
        """
        if stage not in STAGES:
            raise InvalidInputError(f"stage must be one of {', '.join(STAGES)}; got {stage!r}")
        check_text(actor, "actor")
        with self.session(write=True) as s:
            model = find_model(s, name, project, for_update=True)
            row = find_version(s, model, version)
            if row.stage == stage:
                info = version_info(s, model, row)
                if record is not None:
                    record(s.connection(), info)
                return info
            if stage == "candidate":
                raise ConflictError(
                    f"model '{name}' version {row.version} is {row.stage}; 'candidate' is only "
                    "the stage a version is registered in (archive it instead)"
                )
            if stage in EXCLUSIVE_STAGES:
                holders = s.scalars(
                    select(ModelVersion).where(
                        ModelVersion.model_id == model.id,
                        ModelVersion.stage == stage,
                        ModelVersion.id != row.id,
                    )
                ).all()
                for previous in holders:
                    s.add(
                        stage_event(
                            model,
                            previous.version,
                            stage,
                            "archived",
                            actor,
                            f"replaced by version {row.version}",
                        )
                    )
                    previous.stage = "archived"
                # Flush the archiving first: the unique index allows one holder at a time.
                s.flush()
            s.add(stage_event(model, row.version, row.stage, stage, actor, reason))
            row.stage = stage
            s.flush()
            info = version_info(s, model, row)
            if record is not None:
                record(s.connection(), info)
        logger.info("%s moved to %s by %s", info.ref, stage, actor)
        return info

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        actor: str,
        project: str = DEFAULT_PROJECT,
        record: Callable[[Connection, AliasInfo], object] | None = None,
    ) -> AliasInfo:
        """Point ``alias`` (e.g. ``champion``) at a version, moving it if it already exists;
        ``record`` writes what must land with it, in its transaction (see :meth:`promote`)."""
        check_alias(alias)
        check_text(actor, "actor")
        with self.session(write=True) as s:
            model = find_model(s, name, project, for_update=True)
            target = find_version(s, model, version)
            row = s.scalar(select(Alias).where(Alias.model_id == model.id, Alias.alias == alias))
            if row is None:
                row = Alias(
                    model_id=model.id, alias=alias, version=target.version, updated_by=actor
                )
                s.add(row)
            else:
                row.version = target.version
                row.updated_by = actor
            row.updated_at = utcnow()
            s.flush()
            info = alias_info(model, row)
            if record is not None:
                record(s.connection(), info)
            return info

    def delete_alias(self, name: str, alias: str, project: str = DEFAULT_PROJECT) -> None:
        with self.session(write=True) as s:
            model = find_model(s, name, project, for_update=True)
            row = s.scalar(select(Alias).where(Alias.model_id == model.id, Alias.alias == alias))
            if row is None:
                raise NotFoundError(f"model '{name}' has no alias '{alias}'")
            s.delete(row)

    def list_aliases(self, name: str, project: str = DEFAULT_PROJECT) -> list[AliasInfo]:
        with self.session() as s:
            model = find_model(s, name, project)
            rows = s.scalars(
                select(Alias).where(Alias.model_id == model.id).order_by(Alias.alias)
            ).all()
            return [alias_info(model, row) for row in rows]

    # -- artifacts ---------------------------------------------------------------------------

    def bundle_path(self, version: VersionInfo) -> Path:
        """The bundle directory of a version, checked against the sha256 the registry holds.

        The check re-hashes every file, so it runs once per bundle per process; later calls
        only confirm the directory is still there.
        """
        sha = version.bundle_sha256
        try:
            if sha in self._verified:
                return self.store.get_dir(sha)
            self.store.verify(sha)
        except NotFoundError:
            raise IntegrityError(
                f"bundle of model '{version.model_name}' version {version.version} "
                f"({sha}) is missing from the artifact store"
            ) from None
        except IntegrityError as exc:
            raise IntegrityError(
                f"bundle of model '{version.model_name}' version {version.version} failed its "
                f"sha256 check: {exc}"
            ) from None
        with self._verified_lock:
            self._verified.add(sha)
        return self.store.get_dir(sha)

    # -- build jobs --------------------------------------------------------------------------

    def create_job(self, name: str, model_name: str | None = None, project: str = DEFAULT_PROJECT) -> int:
        with self.session(write=True) as s:
            return jobs.create_job(s, name, model_name, project)

    def update_job(
        self,
        job_id: int,
        progress: float | None = None,
        message: str | None = None,
        status: str | None = None,
    ) -> JobInfo:
        with self.session(write=True) as s:
            return jobs.update_job(s, job_id, progress=progress, message=message, status=status)

    def close_abandoned_jobs(self, model_names: list[str], message: str) -> list[int]:
        """Fail the unfinished jobs building ``model_names`` (see :func:`jobs.close_abandoned`)."""
        with self.session(write=True) as s:
            return jobs.close_abandoned(s, model_names, message)

    def get_job(self, job_id: int) -> JobInfo:
        with self.session() as s:
            return jobs.get_job(s, job_id)

    def list_jobs(self, status: str | None = None, limit: int = 100,
                  project: str | None = None) -> list[JobInfo]:
        """Newest first; one project's, or every project's when ``project`` is None."""
        with self.session() as s:
            return jobs.list_jobs(s, status=status, limit=limit, project=project)

    # -- projects (tenants) ------------------------------------------------------------------

    def create_project(self, name: str) -> bool:
        """Create project ``name``; False if it already existed."""
        with self.session(write=True) as s:
            if project_exists(s, name):  # checks the name too
                return False
            s.add(Project(name=name))
            return True

    def list_projects(self) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(Project.name).order_by(Project.name)))

    def has_project(self, name: str) -> bool:
        with self.session() as s:
            return project_exists(s, name)
