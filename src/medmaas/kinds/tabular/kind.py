"""The tabular kind: classification and regression on a feature table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medmaas.bundle.spec import ExplainSpec, FeatureSpec, ModelSpec, OnnxBinding, OutputSpec
from medmaas.exceptions import InvalidInputError
from medmaas.kinds.base import Batch, InferenceFn, Kind, Progress, no_progress, register_kind
from medmaas.kinds.tabular import codec
from medmaas.kinds.tabular.export import input_binding

if TYPE_CHECKING:
    from typing import Self

    from medmaas.data.dataset import Dataset, TabularDataset

BACKGROUND_FILE = "explain/background.json"
CONFORMAL_ALPHA = 0.1


@register_kind("tabular")
class TabularKind(Kind):
    """Preprocessing + one of logistic/ridge, gradient boosting or an MLP, chosen by k-fold CV.

    >>> kind = TabularKind(task="classification", cv_folds=5)  # doctest: +SKIP
    >>> kind.fit(train).estimator_                              # doctest: +SKIP
    'logistic-regression'
    """

    tasks = ("classification", "regression")

    # ---- training side -------------------------------------------------------------
    @classmethod
    def read(cls, source: Path | bytes, *, target: str, name: str, task: str | None = None,
             **options: Any) -> TabularDataset:
        from medmaas.data.readers import read_table
        from medmaas.data.tabular import build_tabular_dataset

        frame = read_table(source, name=name)
        label = source.name if isinstance(source, Path) else name
        return build_tabular_dataset(frame, target, name=name, source=label, task=task, **options)

    def split(self, dataset: Dataset) -> tuple[TabularDataset, TabularDataset, str]:
        from sklearn.model_selection import train_test_split

        ds = _tabular(dataset)
        stratify = ds.y if ds.task == "classification" else None
        train_idx, test_idx = train_test_split(
            np.arange(ds.n_samples), test_size=self.test_size, random_state=self.random_state,
            stratify=stratify,
        )
        how = (f"{'stratified ' if stratify is not None else ''}random hold-out of "
               f"{self.test_size:.0%} (seed {self.random_state}), never used in model selection")
        return ds.subset(np.sort(train_idx)), ds.subset(np.sort(test_idx)), how

    def _pipeline(self, name: str, ds: TabularDataset) -> Any:
        from sklearn.pipeline import Pipeline

        from medmaas.kinds.tabular.candidates import SCALE_FREE, candidate_factories
        from medmaas.kinds.tabular.preprocess import build_preprocessor

        k = self.select_k if self.select_k and self.select_k < len(ds.columns) else None
        factory = candidate_factories(self.task, self.candidates)[name]
        preprocess = build_preprocessor(ds.columns, self.task, k, scale=name not in SCALE_FREE)
        return Pipeline([("preprocess", preprocess),
                         ("model", factory(self.random_state))])

    def fit(self, dataset: Dataset, progress: Progress = no_progress) -> Self:
        from medmaas.kinds.tabular.candidates import candidate_factories
        from medmaas.kinds.tabular.preprocess import to_model_frame
        from medmaas.training.conformal import classification_quantile, regression_quantile
        from medmaas.training.cv import by_name, select_candidate

        ds = _tabular(dataset)
        if ds.task != self.task:
            raise InvalidInputError(f"dataset task is {ds.task} but the kind was built for {self.task}")
        X = to_model_frame(ds.X, ds.columns)
        y = ds.y.to_numpy()
        if self.task == "classification":
            y = y.astype(np.int64)
        names = list(candidate_factories(self.task, self.candidates))
        best, scores = select_candidate(
            lambda n: self._pipeline(n, ds), names, X, y, task=self.task, folds=self.cv_folds,
            seed=self.random_state, progress=progress, progress_span=(0.0, 0.9),
        )
        progress(f"refitting {best} on the whole training split", 0.9)
        self.pipeline_ = self._pipeline(best, ds).fit(X, y)
        self.estimator_ = best
        self.cv_scores_ = scores
        oof = by_name(scores)[best].oof
        self.columns_ = ds.columns
        self.classes_ = ds.classes
        self.target_name_ = ds.target_name
        if self.task == "classification":
            self.threshold_ = _operating_threshold(y, oof)
            self.conformal_q_ = classification_quantile(oof, y, CONFORMAL_ALPHA)
        else:
            self.threshold_ = None
            self.conformal_q_ = regression_quantile(oof, y, CONFORMAL_ALPHA)
        progress("fitted", 1.0)
        return self

    def predict_native(self, dataset: Dataset) -> np.ndarray:
        from medmaas.kinds.tabular.preprocess import to_model_frame

        X = to_model_frame(_tabular(dataset).X, self.columns_)
        if self.task == "classification":
            return np.asarray(self.pipeline_.predict_proba(X), dtype=np.float64)
        return np.asarray(self.pipeline_.predict(X), dtype=np.float64).reshape(-1)

    def export(self, directory: Path, dataset: Dataset) -> ModelSpec:
        from medmaas.kinds.tabular.background import summarise
        from medmaas.kinds.tabular.export import to_onnx

        ds = _tabular(dataset)
        directory.mkdir(parents=True, exist_ok=True)
        onnx_bytes, outputs = to_onnx(self.pipeline_, self.columns_, self.task)
        (directory / "model.onnx").write_bytes(onnx_bytes)
        background = summarise(ds.X, self.columns_, seed=self.random_state)
        (directory / "explain").mkdir(exist_ok=True)
        (directory / BACKGROUND_FILE).write_text(json.dumps(background, indent=1))
        units = self.units or {}
        inputs = [
            FeatureSpec(
                name=c.name,
                type="number" if c.type == "numeric" else "string",
                unit=units.get(c.name, {}).get("unit"),
                description=units.get(c.name, {}).get("description"),
                minimum=c.minimum, maximum=c.maximum,
                categories=list(c.categories) if c.type == "categorical" else None,
            )
            for c in self.columns_
        ]
        classification = self.task == "classification"
        binary = classification and len(self.classes_) == 2
        output = OutputSpec(
            target=self.target_name_, task=self.task,  # type: ignore[arg-type]
            classes=list(self.classes_) if classification else None,
            positive_class=self.classes_[1] if binary else None,
            threshold=round(float(self.threshold_), 6) if binary and self.threshold_ is not None else None,
            unit=units.get(self.target_name_, {}).get("unit"),
        )
        binding = OnnxBinding(**input_binding(self.columns_), **outputs)
        return ModelSpec(
            kind=self.name, task=self.task, estimator=self.estimator_,  # type: ignore[arg-type]
            inputs=inputs, output=output, onnx=binding,
            explain=ExplainSpec(method="shap-permutation", background=BACKGROUND_FILE),
            extra={"conformal_q": self.conformal_q_, "conformal_alpha": CONFORMAL_ALPHA},
        )

    def onnx_inputs(self, dataset: Dataset) -> Batch:
        ds = _tabular(dataset)
        records = [
            {c.name: _json_value(v) for c, v in zip(self.columns_, row, strict=True)}
            for row in ds.X[[c.name for c in self.columns_]].itertuples(index=False)
        ]
        return codec.decode_rows(self._spec_for_decode(), records)

    def _spec_for_decode(self) -> ModelSpec:
        # Decoding only needs names, types and the ONNX binding; ranges stay unchecked here.
        return ModelSpec(
            kind=self.name, task=self.task, estimator=self.estimator_,  # type: ignore[arg-type]
            inputs=[FeatureSpec(name=c.name, type="number" if c.type == "numeric" else "string")
                    for c in self.columns_],
            output=OutputSpec(target=self.target_name_, task=self.task),  # type: ignore[arg-type]
            onnx=OnnxBinding(**input_binding(self.columns_)),
        )

    def subgroups(self, dataset: Dataset) -> dict[str, np.ndarray]:
        ds = _tabular(dataset)
        groups: dict[str, np.ndarray] = {}
        for column in ds.columns:
            lowered = column.name.lower()
            if lowered in {"sex", "gender"}:
                groups[column.name] = ds.X[column.name].astype(str).to_numpy()
            elif lowered == "age" and column.type == "numeric":
                age = np.asarray(ds.X[column.name], dtype=float)
                groups["age band"] = np.select([age < 50, age < 65, age >= 65],
                                               ["<50", "50-64", ">=65"], default="unknown")
        return groups

    # ---- serving side ----------------------------------------------------------------
    @classmethod
    def decode(cls, spec: ModelSpec, payload: Any) -> Batch:
        if hasattr(payload, "columns") and hasattr(payload, "itertuples"):  # a DataFrame upload
            return codec.decode_rows(spec, codec.frame_rows(spec, payload))
        rows = payload.get("rows") if isinstance(payload, Mapping) else payload
        return codec.decode_rows(spec, rows)

    @classmethod
    def encode(cls, spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
        return codec.encode_outputs(spec, outputs, batch)

    @classmethod
    def explain(cls, spec: ModelSpec, bundle_dir: Path, run: InferenceFn, batch: Batch,
                top_k: int = 10) -> list[dict[str, Any]]:
        from medmaas.explain.shap_tabular import top_contributions
        from medmaas.kinds.tabular.shap_bridge import contributions

        values, base, explained = contributions(spec, bundle_dir, run, batch)
        names = [f.name for f in spec.inputs]
        return [
            {
                "explained_output": explained[i],
                "base_value": round(float(base[i]), 6),
                "contributions": top_contributions(values[i], batch.records[i], names, top_k),
                "method": "SHAP (permutation, background of training-data cluster centroids)",
            }
            for i in range(batch.n)
        ]

    @classmethod
    def global_importance(cls, spec: ModelSpec, bundle_dir: Path, run: InferenceFn,
                          batch: Batch) -> dict[str, float]:
        from medmaas.explain.shap_tabular import global_importance
        from medmaas.kinds.tabular.shap_bridge import contributions

        # Averaged over many rows, one permutation per row is enough for a ranking.
        values, _, _ = contributions(spec, bundle_dir, run, batch, permutations=1)
        return global_importance(values, [f.name for f in spec.inputs])


def _tabular(dataset: Dataset) -> TabularDataset:
    # Imported here: pandas (~75 MB) is a training-side cost a server should not pay.
    from medmaas.data.dataset import TabularDataset

    if not isinstance(dataset, TabularDataset):
        raise InvalidInputError(f"the tabular kind needs a TabularDataset; got {type(dataset).__name__}")
    return dataset


def _json_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    try:
        import pandas as pd

        if value is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


def _operating_threshold(y: np.ndarray, oof: np.ndarray) -> float | None:
    """Binary models: the Youden-optimal threshold on out-of-fold predictions; 0.5 is only
    right for balanced, calibrated problems."""
    if oof.ndim != 2 or oof.shape[1] != 2:
        return None
    from medmaas.metrics.classification import youden_threshold

    return float(youden_threshold(y, oof[:, 1]))
