"""Build the built-in models that are not registered yet, each as a tracked job.

The server starts answering at once; builds run in a background thread and each model appears
(in production stage) as it finishes. Progress is written to the job table, which the CLI and
``GET /v1/models`` show.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from medmaas.builtin.catalog import BUILTINS, BuiltinModel
from medmaas.exceptions import MedmaasError, NotFoundError

if TYPE_CHECKING:
    from medmaas.audit import AuditLog
    from medmaas.registry import Registry

logger = logging.getLogger(__name__)
ACTOR = "medmaas-builtin"


def missing_builtins(registry: Registry) -> list[BuiltinModel]:
    out = []
    for model in BUILTINS:
        try:
            registry.get_model(model.name)
        except NotFoundError:
            out.append(model)
    return out


def build_one(model: BuiltinModel, registry: Registry, audit: AuditLog | None,
              progress: Callable[[str, float], None]) -> int:
    """Train, register and promote one built-in model; returns its version."""
    from medmaas.audit import AuditEvent
    from medmaas.data.units import BUILTIN_COLUMN_INFO
    from medmaas.kinds import get_kind
    from medmaas.training.train import TrainOptions, train_model

    kind = get_kind("tabular")
    dataset = kind.read(model.path, target=model.target, name=model.name, drop=list(model.drop))
    options = TrainOptions(
        intended_use=model.intended_use, references=list(model.references),
        limitations=list(model.limitations), description=model.description,
        units=BUILTIN_COLUMN_INFO.get(model.path.stem),
    )
    result = train_model(dataset, name=model.name, options=options, registry=registry, actor=ACTOR,
                         progress=progress)
    version = int(result.version or 0)
    registry.promote(model.name, version, "production", actor=ACTOR,
                     reason="built-in model, trained at first start")
    if audit is not None:
        audit.append(AuditEvent(actor=ACTOR, role="admin", action="model.register", project="default",
                                resource=model.name, version=version, outcome="ok",
                                detail={"stage": "production", "builtin": True}))
    return version


def build_missing(registry: Registry, audit: AuditLog | None = None,
                  on_progress: Callable[[str, str, float], None] | None = None) -> list[str]:
    """Build every missing built-in model in turn; one failure does not stop the others."""
    todo = missing_builtins(registry)
    jobs = {m.name: registry.create_job(f"build {m.name}", model_name=m.name) for m in todo}
    built = []
    for model in todo:
        job = jobs[model.name]

        def progress(message: str, fraction: float, _job: int = job, _name: str = model.name) -> None:
            registry.update_job(_job, progress=round(fraction, 3), message=message, status="running")
            if on_progress is not None:
                on_progress(_name, message, fraction)

        try:
            version = build_one(model, registry, audit, progress)
            registry.update_job(job, progress=1.0, message=f"registered version {version}", status="succeeded")
            built.append(model.name)
        except (MedmaasError, ValueError, RuntimeError) as exc:
            logger.error("built-in model %s failed: %s", model.name, exc)
            registry.update_job(job, progress=0.0, message=f"failed: {exc}", status="failed")
    return built


def build_in_background(registry: Registry, audit: AuditLog | None = None) -> threading.Thread | None:
    if not missing_builtins(registry):
        return None
    thread = threading.Thread(target=build_missing, args=(registry, audit), name="medmaas-builtin",
                              daemon=True)
    thread.start()
    return thread
