"""Build jobs: long-running work (a built-in model being trained) that the UI shows live.

Kept apart from the model registry because jobs are operational state, not model history:
they may be pruned, and nothing else refers to them.
"""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from medmaas.exceptions import ConflictError, InvalidInputError, NotFoundError
from medmaas.registry.info import JobInfo
from medmaas.registry.tables import DEFAULT_PROJECT, JOB_STATUSES, BuildJob, utcnow
from medmaas.registry.validation import check_name, check_text

_FINISHED = ("succeeded", "failed")


def job_info(row: BuildJob) -> JobInfo:
    return JobInfo(
        id=row.id,
        project=row.project,
        name=row.name,
        status=row.status,
        progress=row.progress,
        message=row.message,
        model_name=row.model_name,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def create_job(session: Session, name: str, model_name: str | None = None,
               project: str = DEFAULT_PROJECT) -> int:
    row = BuildJob(name=check_text(name, "job name"), model_name=model_name, status="queued",
                   project=check_name(project, "project name"))
    session.add(row)
    session.flush()
    return row.id


def update_job(
    session: Session,
    job_id: int,
    *,
    progress: float | None = None,
    message: str | None = None,
    status: str | None = None,
) -> JobInfo:
    """Record progress; moving to running/succeeded/failed stamps started/finished times."""
    if status is not None and status not in JOB_STATUSES:
        raise InvalidInputError(
            f"job status must be one of {', '.join(JOB_STATUSES)}; got {status!r}"
        )
    if progress is not None and (
        isinstance(progress, bool)
        or not isinstance(progress, int | float)
        or not math.isfinite(progress)
        or not 0.0 <= progress <= 1.0
    ):
        raise InvalidInputError(f"job progress must be a number from 0 to 1; got {progress!r}")
    row = session.scalar(select(BuildJob).where(BuildJob.id == job_id).with_for_update())
    if row is None:
        raise NotFoundError(f"job {job_id} not found")
    if row.status in _FINISHED:
        raise ConflictError(f"job {job_id} already {row.status}; it cannot change any more")
    now = utcnow()
    if status is not None and status != row.status:
        if status != "queued" and row.started_at is None:
            row.started_at = now
        if status in _FINISHED:
            row.finished_at = now
        row.status = status
    if progress is not None:
        row.progress = float(progress)
    if status == "succeeded":
        row.progress = 1.0
    if message is not None:
        row.message = message
    session.flush()
    return job_info(row)


def close_abandoned(session: Session, model_names: list[str], message: str) -> list[int]:
    """Mark failed every queued or running job that builds one of ``model_names``; their ids.

    Only for a caller that knows no process is still working on them (the built-in builder
    holding its lock): a job left "running" by a killed process would otherwise stay so for good.
    """
    rows = session.scalars(select(BuildJob).where(BuildJob.model_name.in_(model_names),
                                                  BuildJob.status.not_in(_FINISHED))
                           .order_by(BuildJob.id).with_for_update())
    now = utcnow()
    closed = []
    for row in rows:
        row.status, row.message, row.progress, row.finished_at = "failed", message, 0.0, now
        closed.append(row.id)
    session.flush()
    return closed


def get_job(session: Session, job_id: int) -> JobInfo:
    row = session.get(BuildJob, job_id)
    if row is None:
        raise NotFoundError(f"job {job_id} not found")
    return job_info(row)


def list_jobs(session: Session, status: str | None = None, limit: int = 100,
              project: str | None = None) -> list[JobInfo]:
    """Newest first, so a dashboard shows what is happening now at the top; one project's
    jobs, or every project's when ``project`` is None."""
    query = select(BuildJob).order_by(BuildJob.id.desc()).limit(max(1, min(limit, 1000)))
    if project is not None:
        query = query.where(BuildJob.project == project)
    if status is not None:
        query = query.where(BuildJob.status == status)
    return [job_info(row) for row in session.scalars(query)]
