"""The image kind: 2D and 3D CNNs (MONAI) on DICOM, NIfTI, PNG/JPEG and MedMNIST images."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medmaas.bundle.spec import ExplainSpec, FeatureSpec, ModelSpec, OnnxBinding, OutputSpec
from medmaas.exceptions import InvalidInputError
from medmaas.kinds.base import (
    Batch,
    CodecServing,
    InferenceFn,
    Kind,
    Progress,
    no_progress,
    register_kind,
)
from medmaas.kinds.image import codec
from medmaas.kinds.splitting import stratified as _stratified
from medmaas.kinds.splitting import youden as _youden

if TYPE_CHECKING:
    from typing import Self

    from medmaas.data.dataset import Dataset
    from medmaas.kinds.image.dataset import ImageDataset

WEIGHTS_FILE = "weights.safetensors"
INT8_FILE = "model.int8.onnx"
CONFORMAL_ALPHA = 0.1
VALIDATION_FRACTION = 0.15


@register_kind("image")
class ImageKind(CodecServing, Kind):
    """A MONAI CNN per candidate architecture, trained with early stopping on a validation
    split and chosen by validation AUROC; exported to ONNX (fp32 and int8).

    >>> kind = ImageKind(candidates=["resnet"], epochs=30)  # doctest: +SKIP
    >>> kind.fit(train).estimator_                           # doctest: +SKIP
    'resnet'
    """

    codec = codec  # serving: decode_file and encode (CodecServing)

    tasks = ("classification",)
    loop_rows = 0

    def __init__(self, task: str = "classification", *,
                 epochs: int = 40, batch_size: int = 64, learning_rate: float = 2e-3,
                 patience: int = 12, augment: bool = True, init_from: Path | None = None,
                 quantize: bool = True, members: int = 1, **common: Any) -> None:
        super().__init__(task, **common)
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.augment = augment
        self.init_from = init_from
        self.quantize = quantize
        if members < 1:
            raise InvalidInputError(f"members must be at least 1; got {members}")
        #: networks per candidate, each from its own seed, averaged (an ensemble)
        self.members = members

    # ---- training side -------------------------------------------------------------
    @classmethod
    def read(cls, source: Path | bytes, *, target: str, name: str, task: str | None = None,
             **options: Any) -> ImageDataset:
        from medmaas.kinds.image.reading import read_image_dataset

        if task not in (None, "classification"):
            raise InvalidInputError(f"the image kind does classification; got task {task!r}")
        if not isinstance(source, Path):
            raise InvalidInputError("image data sets are read from a .npz file, a folder or a CSV of paths")
        return read_image_dataset(source, name=name, target=target or "label", **options)

    def split(self, dataset: Dataset) -> tuple[ImageDataset, ImageDataset, str]:
        ds = _images(dataset)
        if ds.split is not None and (ds.split == "test").any():
            train = ds.subset(np.flatnonzero(ds.split != "test"))
            return train, ds.part("test"), "the source's official test split, never used in training or model selection"
        train_idx, test_idx = _stratified(ds.y, self.test_size, self.random_state)
        how = (f"stratified random hold-out of {self.test_size:.0%} (seed {self.random_state}), "
               "never used in training or model selection")
        return ds.subset(train_idx), ds.subset(test_idx), how

    def _train_val(self, ds: ImageDataset) -> tuple[ImageDataset, ImageDataset]:
        if ds.split is not None and (ds.split == "val").any():
            return ds.subset(np.flatnonzero(ds.split != "val")), ds.part("val")
        train_idx, val_idx = _stratified(ds.y, VALIDATION_FRACTION, self.random_state + 1)
        return ds.subset(train_idx), ds.subset(val_idx)

    def fit(self, dataset: Dataset, progress: Progress = no_progress) -> Self:
        from monai.utils import set_determinism

        from medmaas.kinds.image.networks import (
            ARCHITECTURES,
            build_network,
            default_config,
            deployable,
        )
        from medmaas.kinds.image.training import (
            FitSettings,
            predict_proba,
            train_network,
            val_auroc,
        )
        from medmaas.training.conformal import classification_quantile
        from medmaas.training.cv import CandidateScore

        ds = _images(dataset)
        train, val = self._train_val(ds)
        names = self.candidates or ["resnet"]
        unknown = sorted(set(names) - set(ARCHITECTURES))
        if unknown:
            raise InvalidInputError(f"unknown image candidate(s) {unknown}; choose from {', '.join(ARCHITECTURES)}")
        pixels = train.images.astype(np.float32)
        mean, std = float(pixels.mean()), float(pixels.std()) or 1.0
        settings = FitSettings(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                               patience=self.patience, augment=self.augment, seed=self.random_state)
        best: tuple[float, Any, Any, Any] | None = None  # validation AUROC, model, config, by-products
        self.cv_scores_: list[CandidateScore] = []
        n_runs = len(names) * self.members
        val_pixels = val.images.astype(np.float32)
        # seeds 0,1,2 | 3,4,5 | ...: disjoint across random states
        self.member_seeds_ = [self.random_state * self.members + m for m in range(self.members)]
        for i, name in enumerate(names):
            config = default_config(name, ds.shape, len(ds.classes))
            began = time.perf_counter()
            networks, outcomes, transferred = [], [], []
            for m, seed in enumerate(self.member_seeds_):
                set_determinism(seed=seed)  # the initial weights too, not only the batches
                network = build_network(config)
                transferred = self._transfer(network, config) if self.init_from else []
                run = i * self.members + m
                span = (run / n_runs, (run + 1) / n_runs)
                label = name if self.members == 1 else f"{name} {m + 1}/{self.members}"

                def sub(message: str, fraction: float, _label: str = label,
                        _span: tuple[float, float] = span) -> None:
                    progress(f"{_label}: {message}", _span[0] + fraction * (_span[1] - _span[0]))

                outcome = train_network(deployable(network, mean, std), pixels, train.y, val_pixels, val.y,
                                        replace(settings, seed=seed), len(ds.classes), sub)
                networks.append(network)
                outcomes.append(outcome)
            # Mirrored views at prediction time only where training taught mirrored images.
            model = deployable(networks, mean, std, mirror_axis=-1 if self.augment else None)
            proba = predict_proba(model, val_pixels)
            score = val_auroc(val.y, proba)
            self.cv_scores_.append(CandidateScore(name=name, metric="validation AUROC",
                                                  fold_scores=[score],
                                                  fit_seconds=time.perf_counter() - began,
                                                  oof=np.zeros(0)))
            if best is None or score > best[0]:
                best = (score, model, config, (outcomes, transferred, proba))
        assert best is not None
        self.val_auroc_, self.model_, self.config_, (self.member_outcomes_, self.transferred_, val_proba) = best
        self.estimator_ = self.config_.architecture
        self.mean_, self.std_ = mean, std
        self.shape_ = ds.shape
        self.classes_ = ds.classes
        self.target_name_ = ds.target_name
        self.n_train_, self.n_val_ = train.n_samples, val.n_samples
        self.threshold_ = _youden(val.y, val_proba)
        self.conformal_q_ = classification_quantile(val_proba, val.y, CONFORMAL_ALPHA)
        self.calibration_images_ = pixels[:512]
        progress("fitted", 1.0)
        return self

    def _transfer(self, network: Any, config: Any) -> list[str]:
        from medmaas.kinds.image.transfer import load_matching_weights

        return load_matching_weights(network, config, Path(self.init_from))  # type: ignore[arg-type]

    def predict_native(self, dataset: Dataset) -> np.ndarray:
        from medmaas.kinds.image.training import predict_proba

        return predict_proba(self.model_, _images(dataset).images)

    def export(self, directory: Path, dataset: Dataset) -> ModelSpec:
        from medmaas.kinds.image.export import INPUT_NAME, OUTPUT_NAME, quantize_int8, to_onnx
        from medmaas.kinds.image.transfer import save_weights

        directory.mkdir(parents=True, exist_ok=True)
        onnx_bytes = to_onnx(self.model_, self.calibration_images_)
        (directory / "model.onnx").write_bytes(onnx_bytes)
        save_weights(list(self.model_.members), directory / WEIGHTS_FILE)
        variants = {}
        if self.quantize:
            (directory / INT8_FILE).write_bytes(quantize_int8(onnx_bytes, self.calibration_images_,
                                                              seed=self.random_state))
            variants["int8"] = INT8_FILE
        binary = len(self.classes_) == 2
        output = OutputSpec(target=self.target_name_, task="classification", classes=list(self.classes_),
                            positive_class=self.classes_[1] if binary else None,
                            threshold=round(float(self.threshold_), 6) if binary else None)
        return ModelSpec(
            kind=self.name, task="classification", estimator=self.estimator_,
            inputs=[FeatureSpec(name="image", type="image", shape=list(self.shape_),
                                description="pixels on the display scale 0..255, channels first",
                                minimum=0.0, maximum=255.0)],
            output=output,
            onnx=OnnxBinding(inputs={"image": INPUT_NAME}, input_dtypes={"image": "float32"},
                             probability_output=OUTPUT_NAME, variants=variants),
            explain=ExplainSpec(method="occlusion"),
            extra={"network": self.config_.as_dict(), "weights": WEIGHTS_FILE,
                   "members": self.members, "mirror_axis": self.model_.mirror_axis,
                   "normalisation": {"mean": round(self.mean_, 6), "std": round(self.std_, 6)},
                   "conformal_q": self.conformal_q_, "conformal_alpha": CONFORMAL_ALPHA},
        )

    def onnx_inputs(self, dataset: Dataset) -> Batch:
        ds = _images(dataset)
        return Batch(feeds={"image": ds.images.astype(np.float32)}, n=ds.n_samples,
                     records=[{"source": "array"} for _ in range(ds.n_samples)],
                     warnings=[[] for _ in range(ds.n_samples)])

    def extra_card(self) -> dict[str, Any]:
        runs = self.member_outcomes_
        seeds = self.member_seeds_
        ensemble = (f"{len(seeds)} networks from seeds {seeds[0]}–{seeds[-1]}, probabilities averaged"
                    if len(seeds) > 1 else "one network")
        if self.model_.mirror_axis is not None:
            ensemble += "; each sees the image and its mirror image (test-time augmentation)"
        return {
            "network": self.config_.as_dict(),
            "ensemble": ensemble,
            "training": {"epochs_run": [o.epochs_run for o in runs], "best_epoch": [o.best_epoch for o in runs],
                         "best_validation_auroc": [round(o.best_val_auroc, 4) for o in runs],
                         "validation_auroc": round(self.val_auroc_, 4),
                         "n_train": self.n_train_, "n_validation": self.n_val_,
                         "seconds": round(sum(o.seconds for o in runs), 1), "seed": self.random_state,
                         "augmentation": "MONAI RandFlip, RandAffine (±15°, ±10% scale, ±2 px), RandAdjustContrast",
                         "loss": "class-weighted cross-entropy with label smoothing 0.05"},
            "transferred_layers": len(self.transferred_),
        }

    # ---- serving side ----------------------------------------------------------------
    @classmethod
    def decode(cls, spec: ModelSpec, payload: Any) -> Batch:
        rows = payload.get("rows") if isinstance(payload, Mapping) else payload
        return codec.decode_rows(spec, rows)

    @classmethod
    def explain(cls, spec: ModelSpec, bundle_dir: Path, run: InferenceFn, batch: Batch,
                top_k: int = 10) -> list[dict[str, Any]]:
        from medmaas.kinds.image.explaining import explain_batch

        return explain_batch(spec, run, batch)


def _images(dataset: Dataset) -> ImageDataset:
    from medmaas.kinds.image.dataset import ImageDataset

    if not isinstance(dataset, ImageDataset):
        raise InvalidInputError(f"the image kind needs an ImageDataset; got {type(dataset).__name__}")
    return dataset

