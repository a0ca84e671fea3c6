"""Build the built-in models that are not registered yet, each as a tracked job.

The server starts answering at once; builds run in a separate process (training imports
scikit-learn and PyTorch, several hundred MB a server should not carry for the rest of its life)
and each model appears (in production stage) as it finishes. Progress is written to the job
table, which the CLI and ``GET /v1/models`` show.

A build killed between registering a model and promoting it leaves a candidate that nothing
would promote (the model is no longer missing): the next start finishes it
(:func:`unfinished_builtins`). The promotion and its audit event are one transaction.

``python -m medmaas.builtin.build`` is that process; it reads the same ``MEDMAAS_*`` settings.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medmaas.builtin.catalog import BUILTINS, BuiltinModel
from medmaas.exceptions import MedmaasError, NotFoundError

if TYPE_CHECKING:
    from medmaas.audit import AuditLog
    from medmaas.registry import Registry
    from medmaas.settings import Settings

try:
    import fcntl
except ImportError:  # not POSIX: no lock, one builder is then the operator's to ensure
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)
ACTOR = "medmaas-builtin"
#: In the data directory; held by whichever process builds its built-in models.
LOCK_FILE = "builtin-build.lock"
ABANDONED = ("interrupted: the process building it stopped before it finished "
             "(the next start builds the model again)")


@contextlib.contextmanager
def build_lock(home: Path) -> Iterator[bool]:
    """Hold the data directory's build lock if no other process does; yields whether it is held.

    The kernel drops the lock when its holder dies, however it dies, so holding it proves that
    no other builder of this data directory is alive: two servers started on one directory
    do not train the same models twice, and jobs left unfinished can be closed safely.
    """
    if fcntl is None:
        yield True
        return
    fd = os.open(Path(home) / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def close_abandoned_builds(registry: Registry) -> list[int]:
    """Fail the built-in jobs a killed builder left queued or running; call holding the lock."""
    closed = registry.close_abandoned_jobs([m.name for m in BUILTINS], ABANDONED)
    if closed:
        logger.warning("closed %d build job(s) left unfinished by a build that was stopped: %s",
                       len(closed), ", ".join(map(str, closed)))
    return closed


def missing_builtins(registry: Registry) -> list[BuiltinModel]:
    out = []
    for model in BUILTINS:
        try:
            registry.get_model(model.name)
        except NotFoundError:
            out.append(model)
    return out


def unfinished_builtins(registry: Registry) -> list[tuple[BuiltinModel, int]]:
    """Built-in models registered by a build that stopped before promoting them: (model, version)
    for each whose newest version is this build's candidate and which has no production one."""
    out = []
    for model in BUILTINS:
        try:
            versions = registry.list_versions(model.name)
        except NotFoundError:
            continue
        if versions and not any(v.stage == "production" for v in versions):
            latest = versions[-1]
            if latest.stage == "candidate" and latest.created_by == ACTOR:
                out.append((model, latest.version))
    return out


def promote_builtin(model: BuiltinModel, version: int, registry: Registry, audit: AuditLog | None, *,
                    resumed: bool = False) -> None:
    """Put a built-in model's new version in production; its audit event in the same transaction."""
    from medmaas.audit import AuditEvent

    event = AuditEvent(actor=ACTOR, role="admin", action="model.register", project="default",
                       resource=model.name, version=version, outcome="ok",
                       detail={"stage": "production", "builtin": True, **({"resumed": True} if resumed else {})})
    registry.promote(model.name, version, "production", actor=ACTOR,
                     reason="built-in model, trained at first start" + (" (promoted at a later start: the "
                                                                        "build was interrupted)" if resumed else ""),
                     record=None if audit is None else audit.recorder(lambda _: event))


def build_one(model: BuiltinModel, registry: Registry, audit: AuditLog | None,
              progress: Callable[[str, float], None], *,
              kind_options: dict[str, object] | None = None) -> int:
    """Train, register and promote one built-in model; returns its version.

    ``kind_options`` overrides the catalog's (tests train an image model for one epoch).
    """
    from medmaas.data.units import BUILTIN_COLUMN_INFO
    from medmaas.fhir.maps import read_map
    from medmaas.training.train import TrainOptions, train_model

    dataset = _read(model)
    benchmarks = [f"Published: {model.published}"] if model.published else []
    if model.measured:
        benchmarks.append(f"medmaas: {model.measured}")
    options = TrainOptions(
        kind=model.kind, intended_use=model.intended_use, references=list(model.references),
        limitations=list(model.limitations), description=model.description, benchmarks=benchmarks,
        units=BUILTIN_COLUMN_INFO.get(model.path.stem), kind_options={**model.kind_options, **(kind_options or {})},
        candidates=list(model.candidates) or None,
        fhir=read_map(model.path.parent / model.fhir_map) if model.fhir_map else None,
    )
    result = train_model(dataset, name=model.name, options=options, registry=registry, actor=ACTOR,
                         progress=progress)
    version = int(result.version or 0)
    promote_builtin(model, version, registry, audit)
    return version


def _read(model: BuiltinModel) -> object:
    from medmaas.kinds import get_kind

    kind = get_kind(model.kind)
    if model.kind == "image":
        return kind.read(model.path, target=model.target, name=model.name,  # type: ignore[call-arg]
                         class_names=list(model.classes), positive_class=model.positive_class)
    if model.kind == "text":
        return kind.read(model.path, target=model.target, name=model.name,  # type: ignore[call-arg]
                         text_columns=list(model.text_columns), class_names=list(model.classes))
    if model.kind in ("signal", "timeseries"):
        return kind.read(model.path, target=model.target, name=model.name)
    return kind.read(model.path, target=model.target, name=model.name, drop=list(model.drop))


def build_missing(registry: Registry, audit: AuditLog | None = None,
                  on_progress: Callable[[str, str, float], None] | None = None) -> list[str]:
    """Finish what an interrupted build left, then build every missing built-in model in turn;
    one failure does not stop the others."""
    for model, version in unfinished_builtins(registry):
        logger.warning("built-in model %s version %d was registered by a build that stopped before "
                       "promoting it; promoting it now", model.name, version)
        promote_builtin(model, version, registry, audit, resumed=True)
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
        except ImportError as exc:  # an install without the kind's extra (imaging: monai, torch)
            message = f"failed: the {model.kind} kind needs an extra: pip install 'medmaas[all]' ({exc.name} missing)"
            logger.error("built-in model %s not built: %s", model.name, message)
            registry.update_job(job, progress=0.0, message=message, status="failed")
        except (MedmaasError, ValueError, RuntimeError) as exc:
            logger.error("built-in model %s failed: %s", model.name, exc)
            registry.update_job(job, progress=0.0, message=f"failed: {exc}", status="failed")
        except BaseException:  # stopped (the server shut down): no job stays "running"
            for name in [m.name for m in todo if m.name not in built]:
                registry.update_job(jobs[name], progress=0.0, message="interrupted", status="failed")
            raise
    return built


def build_in_background(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start ``python -m medmaas.builtin.build`` if a built-in model is missing or unfinished; it
    is stopped when this process exits."""
    from medmaas.registry import Registry

    registry = Registry.open(settings)
    try:
        if not missing_builtins(registry) and not unfinished_builtins(registry):
            return None
    finally:
        registry.close()
    env = {**os.environ, "MEDMAAS_HOME": str(settings.home.resolve()),
           "MEDMAAS_DATABASE_URL": settings.resolved_database_url()}
    process = subprocess.Popen([sys.executable, "-m", "medmaas.builtin.build"], env=env,
                               stdin=subprocess.DEVNULL)
    # The server stops it on shutdown (stop_build); atexit covers other exits. A server killed
    # outright runs neither: the build then notices it was orphaned (_exit_with_parent).
    atexit.register(stop_build, process)
    return process


def stop_build(process: subprocess.Popen[bytes]) -> None:
    """Ask the build to stop (its unfinished jobs are marked interrupted); kill it after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    from medmaas.audit import AuditLog
    from medmaas.logs import configure
    from medmaas.registry import Registry
    from medmaas.settings import Settings

    # SIGTERM from the server becomes SystemExit, so unfinished jobs are marked as such.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    sys.unraisablehook = _retry_swallowed_exit
    # Training a CNN takes every core for minutes; the server answering beside it comes first.
    os.nice(10)
    _exit_with_parent()
    settings = Settings()
    configure(settings.log_level)
    registry = Registry.open(settings)
    try:
        with build_lock(settings.home) as held:
            if not held:
                logger.info("another process is building this data directory's built-in models; "
                            "leaving them to it")
                return
            close_abandoned_builds(registry)
            build_missing(registry, AuditLog(registry))
    finally:
        registry.close()


def _retry_swallowed_exit(unraisable: Any) -> None:
    """A SystemExit raised while a ``__del__`` ran is swallowed by Python (it prints "Exception
    ignored" and goes on training): deliver SIGTERM again, to land outside the finaliser."""
    if isinstance(unraisable.exc_value, SystemExit):
        # From another thread: a signal sent here would raise inside this hook, swallowed again.
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return
    sys.__unraisablehook__(unraisable)


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """SIGTERM ourselves when the server that started us is gone (killed, or stopped by a
    signal its ASGI server re-raises, which skips atexit): no orphan keeps training."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        logger.info("the server that started this build exited; stopping")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    main()
