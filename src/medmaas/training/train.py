"""One training run, end to end: split, select, evaluate, export, check, explain, register.

Every arrow of DESIGN.md's data path is one call here, in order, each with a typed value.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medmaas.bundle.card import CandidateResult, ModelCard
from medmaas.bundle.writer import library_versions, write_bundle_files
from medmaas.data.dataset import Dataset
from medmaas.exceptions import IntegrityError
from medmaas.fhir.maps import FhirMap
from medmaas.fhir.maps import attach as attach_fhir_map
from medmaas.kinds.base import Kind, Progress, get_kind, no_progress
from medmaas.training.variants import compare_variants

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlalchemy import Connection

    from medmaas.registry import Registry, VersionInfo

logger = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-5
MAX_EXPLAIN_ROWS = 60


@dataclass
class TrainResult:
    name: str
    version: int | None
    bundle_sha256: str | None
    estimator: str
    metrics: dict[str, Any]
    parity_max_diff: float
    seconds: float
    warnings: list[str] = field(default_factory=list)
    bundle_dir: Path | None = None


@dataclass
class TrainOptions:
    """What a user chooses for a run; everything else is decided by the kind and CV."""

    kind: str = "tabular"
    candidates: list[str] | None = None
    cv_folds: int = 5
    test_size: float = 0.2
    select_k: int | None = None
    seed: int = 0
    n_boot: int = 1000
    intended_use: str | None = None
    limitations: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    #: published results on the same public data, and our own measurement (built-in models)
    benchmarks: list[str] = field(default_factory=list)
    description: str = ""
    units: dict[str, dict[str, str]] | None = None
    #: where each feature is read from a FHIR Bundle (written into spec.json for serving)
    fhir: FhirMap | None = None
    #: settings only one kind understands (an image model's epochs, a model to start from, ...)
    kind_options: dict[str, Any] = field(default_factory=dict)


def parity(task: str, native: np.ndarray, onnx: np.ndarray) -> float:
    """Largest disagreement between native and ONNX predictions (relative for regression,
    where float32 cannot hold more than ~7 significant digits of a value like 150.0)."""
    diff = np.abs(native - onnx)
    if task == "regression":
        diff = diff / np.maximum(1.0, np.abs(native))
    return float(diff.max()) if diff.size else 0.0


def _make_kind(options: TrainOptions, dataset: Dataset) -> Kind:
    cls = get_kind(options.kind)
    return cls(task=dataset.task, candidates=options.candidates, cv_folds=options.cv_folds,  # type: ignore[call-arg]
               test_size=options.test_size, select_k=options.select_k, random_state=options.seed,
               units=options.units, **options.kind_options)


def train_model(dataset: Dataset, *, name: str, options: TrainOptions | None = None,
                registry: Registry | None = None, actor: str = "cli", project: str = "default",
                progress: Progress = no_progress, output_dir: Path | None = None,
                record: Callable[[Connection, VersionInfo], object] | None = None) -> TrainResult:
    """Train, evaluate and bundle a model; register it when a registry is given.

    Without a registry the bundle is written to ``output_dir`` (for inspection or CI).
    ``record`` writes what must land with the registration (its audit event) in the same
    transaction (``Registry.register_version``).
    """
    from medmaas.bundle.card_render import render_markdown
    from medmaas.metrics.evaluate import evaluate
    from medmaas.metrics.plots import importance_png, write_plots
    from medmaas.runtime.loaded import load_bundle

    options = options or TrainOptions()
    began = time.perf_counter()
    kind = _make_kind(options, dataset)
    train, test, split_how = kind.split(dataset)
    progress(f"training on {train.n_samples} rows, holding out {test.n_samples}", 0.0)

    def fit_progress(message: str, fraction: float) -> None:
        progress(message, 0.7 * fraction)

    kind.fit(train, fit_progress)

    progress("evaluating on the hold-out split (bootstrap CIs)", 0.72)
    native = kind.predict_native(test)
    y_test = np.asarray(test.y) if hasattr(test, "y") else np.asarray([])  # type: ignore[attr-defined]
    classes = list(dataset.classes)
    threshold = getattr(kind, "threshold_", None)
    evaluation = evaluate(dataset.task, y_test, native, classes=classes, threshold=threshold,
                          n_boot=options.n_boot, seed=options.seed, groups=kind.subgroups(test) or None,
                          split_description=split_how, n_train=train.n_samples)

    with _staging(registry) as tmp:
        bundle = Path(output_dir) if output_dir else tmp / "bundle"
        progress("exporting to ONNX", 0.8)
        spec = kind.export(bundle, train)
        spec = spec.model_copy(update={"versions": library_versions()})
        if options.fhir is not None:
            spec = attach_fhir_map(spec, options.fhir)
        (bundle / "spec.json").write_text(spec.model_dump_json(indent=2))
        # Parity is checked on model.onnx, the full-precision graph; variants (int8) are
        # compared on quality and speed below and served only if they keep the quality.
        loaded = load_bundle(bundle, name=name, warm_up=False, onnx_file="model.onnx")
        test_batch = kind.onnx_inputs(test)
        onnx_scores = loaded.kind.scores(spec, loaded.run(test_batch.feeds))
        max_diff = parity(dataset.task, native, onnx_scores)
        if max_diff > PARITY_TOLERANCE:
            raise IntegrityError(
                f"ONNX and native predictions differ by {max_diff:.2e} (> {PARITY_TOLERANCE:g}); not registering"
            )

        progress("comparing ONNX variants (quality and latency)", 0.83)
        variants, serve = compare_variants(bundle, spec, test_batch, y_test, loaded, onnx_scores)
        spec = spec.model_copy(update={"onnx": spec.onnx.model_copy(update={"serve": serve})})

        progress("explaining (global importance)", 0.85)
        sample = _first_rows(test_batch, MAX_EXPLAIN_ROWS)
        importance = loaded.kind.global_importance(spec, bundle, loaded.run, sample)
        spec = spec.model_copy(update={"explain": spec.explain.model_copy(update={"global_importance": importance})})

        progress("writing plots and the model card", 0.9)
        plots = write_plots(dataset.task, y_test, native, classes=classes, evaluation=evaluation,
                            directory=bundle / "plots")
        if importance:
            importance_png(importance, path=bundle / "plots" / "importance.png")
            plots.append("importance.png")
        card = ModelCard(
            name=name, kind=spec.kind, task=dataset.task,
            intended_use=options.intended_use or (
                f"Research and decision support: estimate {dataset.target_name} for patients like those "
                f"in the training data ({dataset.source}). A clinician reviews every output."
            ),
            training_data={**dataset.summary(), "notes": list(dataset.warnings)},
            estimator=kind.estimator_,  # type: ignore[attr-defined]
            candidates=[CandidateResult(name=s.name, metric=s.metric, mean=round(s.mean, 6),
                                        std=round(s.std, 6), fit_seconds=round(s.fit_seconds, 3))
                        for s in kind.cv_scores_],  # type: ignore[attr-defined]
            evaluation=evaluation,
            global_importance=dict(list(importance.items())[:20]),
            details=kind.extra_card(),
            variants=variants,
            limitations=[*options.limitations, *_default_limitations(dataset)],
            benchmarks=options.benchmarks,
            references=options.references,
            plots=[f"plots/{p}" for p in plots],
            trained_by=actor,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            versions=spec.versions,
        )
        write_bundle_files(bundle, spec, card, render_markdown(card))

        metrics = {k: v.value for k, v in evaluation.metrics.items()}
        result = TrainResult(name=name, version=None, bundle_sha256=None, estimator=spec.estimator,
                             metrics=metrics, parity_max_diff=max_diff,
                             seconds=0.0, warnings=list(dataset.warnings),
                             bundle_dir=bundle if output_dir else None)
        if registry is not None:
            progress("registering", 0.97)
            headline = _headline(evaluation.metrics, dataset.task)
            info = registry.register_version(
                name, bundle, kind=spec.kind, task=dataset.task, created_by=actor,
                metrics=metrics, headline=headline, spec=spec.model_dump(mode="json"),
                card=card.model_dump(mode="json"), description=options.description, project=project,
                record=record,
            )
            result.version = info.version
            result.bundle_sha256 = info.bundle_sha256
    result.seconds = round(time.perf_counter() - began, 2)
    progress("done", 1.0)
    logger.info("trained %s (%s) in %.1fs", name, result.estimator, result.seconds)
    return result


@contextlib.contextmanager
def _staging(registry: Registry | None) -> Iterator[Path]:
    """Where the bundle is built before it is registered: inside the registry's store when
    there is one, so a run killed midway (a text model's bundle is ~150 MB) leaves nothing
    behind that the next start does not remove."""
    if registry is None:
        with tempfile.TemporaryDirectory(prefix="medmaas-bundle-") as tmp:
            yield Path(tmp)
    else:
        with registry.store.scratch() as tmp:
            yield tmp


def _first_rows(batch: Any, n: int) -> Any:
    from medmaas.kinds.base import Batch

    if batch.n <= n:
        return batch
    return Batch(feeds={k: v[:n] for k, v in batch.feeds.items()}, n=n,
                 records=batch.records[:n], warnings=batch.warnings[:n])


def _headline(metrics: dict[str, Any], task: str) -> dict[str, Any] | None:
    for key in ("auroc", "auroc_macro", "r2", "rmse"):
        if key in metrics and metrics[key].value is not None:
            m = metrics[key]
            # The registry reads "ci" as [low, high] (registry.snapshots.parse_headline); as
            # "ci_low"/"ci_high" the interval was dropped and no catalog showed it.
            ci = [m.ci_low, m.ci_high] if m.ci_low is not None and m.ci_high is not None else None
            return {"name": key, "value": m.value, "ci": ci}
    return None


def _default_limitations(dataset: Dataset) -> list[str]:
    out = [f"Validated on a single hold-out split of one source ({dataset.source}); "
           "external validation at the deploying site is required before clinical use."]
    if dataset.n_samples < 1000:
        out.append(f"Small training set ({dataset.n_samples} rows): confidence intervals are wide.")
    return out
