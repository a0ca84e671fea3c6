"""The signal kind: ECG beat classification (AAMI N/S/V/F/Q) by a 1D CNN, an LSTM, a GRU and a
gradient-boosted baseline, from whole recordings (WFDB, EDF, CSV or JSON samples)."""

from __future__ import annotations

import time
from collections.abc import Mapping
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
from medmaas.kinds.signal import codec
from medmaas.kinds.signal.processing import BAND_HZ, BEFORE, MODEL_RATE, RR_FEATURES, WINDOW

if TYPE_CHECKING:
    from typing import Self

    from medmaas.data.dataset import Dataset
    from medmaas.kinds.signal.dataset import BeatDataset

CANDIDATES = ("cnn", "lstm", "gru", "gradient-boosting")
INT8_FILE = "model.int8.onnx"
CONFORMAL_ALPHA = 0.1
VALIDATION_FRACTION = 0.15
SPLITS = ("records", "beats", "ds1-ds2")
#: de Chazal et al. 2004: the inter-patient division of MIT-BIH (paced records 102, 104,
#: 107 and 217 left out), training on DS1 and testing on DS2.
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203",
       "205", "207", "208", "209", "215", "220", "223", "230")
DS2 = ("100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210", "212", "213", "214",
       "219", "221", "222", "228", "231", "232", "233", "234")
#: Fewer records than this and a patient-wise split leaves too few patients on each side.
MIN_RECORDS_FOR_RECORD_SPLIT = 5


@register_kind("signal")
class SignalKind(CodecServing, Kind):
    """Beat classifiers chosen on validation macro-F1; each beat is its 0.71 s window at
    180 Hz plus its RR intervals.

    >>> kind = SignalKind(candidates=["cnn"], split="records")  # doctest: +SKIP
    >>> kind.fit(train).estimator_                                # doctest: +SKIP
    'cnn'
    """

    codec = codec  # serving: encode (CodecServing); decode_file below reads a record's files

    tasks = ("classification",)
    loop_rows = 0  # filtering and peak detection are never cheap enough for the event loop
    #: a CNN call on N beats holds N × 64 channels × 128 samples of activations: bound N
    call_rows = 4096

    def __init__(self, task: str = "classification", *,
                 split: str = "records", epochs: int = 30, batch_size: int = 256,
                 learning_rate: float = 3e-3, patience: int = 6, quantize: bool = True,
                 **common: Any) -> None:
        super().__init__(task, **common)
        if split not in SPLITS:
            raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
        self.split_by = split
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.quantize = quantize

    # ---- training side -------------------------------------------------------------
    @classmethod
    def read(cls, source: Path | bytes, *, target: str, name: str, task: str | None = None,
             **options: Any) -> BeatDataset:
        from medmaas.kinds.signal.reading import read_beat_dataset

        if task not in (None, "classification"):
            raise InvalidInputError(f"the signal kind classifies beats; got task {task!r}")
        if not isinstance(source, Path):
            raise InvalidInputError("ECG data sets are read from a folder or an archive of annotated WFDB records")
        return read_beat_dataset(source, name=name, **options)

    def split(self, dataset: Dataset) -> tuple[BeatDataset, BeatDataset, str]:
        ds = _beats(dataset)
        if self.split_by == "ds1-ds2":
            missing = sorted(set(DS1 + DS2) - set(ds.records.tolist()))
            if missing:
                raise InvalidInputError(f"split 'ds1-ds2' needs the MIT-BIH records; missing {missing[:8]}")
            return (ds.of_records(DS1), ds.of_records(DS2),
                    "inter-patient hold-out: trained on MIT-BIH DS1, tested on the 22 other patients of DS2 (de Chazal 2004)")
        train_idx, test_idx, how = self._divide(ds, self.test_size, self.random_state)
        return ds.subset(train_idx), ds.subset(test_idx), f"{how}, never used in training or model selection"

    def _divide(self, ds: BeatDataset, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
        from medmaas.kinds.splitting import stratified

        n_records = len(np.unique(ds.records))
        if self.split_by == "beats" or n_records < MIN_RECORDS_FOR_RECORD_SPLIT:
            first, second = stratified(ds.y, fraction, seed)
            return first, second, (f"intra-patient hold-out: a stratified random {fraction:.0%} of beats (seed {seed}); the "
                                   "same patients' other beats are in training, so this overestimates accuracy "
                                   "on new patients")
        from sklearn.model_selection import StratifiedGroupKFold

        folds = StratifiedGroupKFold(n_splits=max(2, round(1 / fraction)), shuffle=True, random_state=seed)
        first, second = next(folds.split(np.zeros(len(ds.y)), ds.y, ds.records))
        held = len(np.unique(ds.records[second]))
        return (np.sort(first), np.sort(second),
                f"inter-patient hold-out: {held} of {n_records} records held out whole (stratified by beat class, seed {seed})")

    def fit(self, dataset: Dataset, progress: Progress = no_progress) -> Self:
        from medmaas.kinds.signal.training import macro_f1
        from medmaas.training.conformal import classification_quantile
        from medmaas.training.cv import CandidateScore

        ds = _beats(dataset)
        names = self.candidates or list(CANDIDATES)
        unknown = sorted(set(names) - set(CANDIDATES))
        if unknown:
            raise InvalidInputError(f"unknown signal candidate(s) {unknown}; choose from {', '.join(CANDIDATES)}")
        train_idx, val_idx, self.validation_how_ = self._divide(ds, VALIDATION_FRACTION, self.random_state + 1)
        train, val = ds.subset(train_idx), ds.subset(val_idx)
        self.cv_scores_: list[CandidateScore] = []
        self.outcomes_: dict[str, Any] = {}
        best: tuple[float, str, Any, np.ndarray] | None = None
        for i, name in enumerate(names):
            span = (i / len(names), (i + 1) / len(names))

            def sub(message: str, fraction: float, _name: str = name, _span: tuple[float, float] = span) -> None:
                progress(f"{_name}: {message}", _span[0] + fraction * (_span[1] - _span[0]))

            began = time.perf_counter()
            model = self._fit_candidate(name, train, val, len(ds.classes), sub)
            proba = _predict(model, val.windows, val.rhythm)
            score = macro_f1(val.y, proba)
            self.cv_scores_.append(CandidateScore(name=name, metric="validation macro-F1", fold_scores=[score],
                                                  fit_seconds=time.perf_counter() - began, oof=np.zeros(0)))
            if best is None or score > best[0]:
                best = (score, name, model, proba)
        assert best is not None
        self.val_macro_f1_, self.estimator_, self.model_, val_proba = best
        self.classes_ = ds.classes
        self.lead_ = ds.lead
        self.n_train_, self.n_val_ = train.n_samples, val.n_samples
        self.threshold_ = None
        self.conformal_q_ = classification_quantile(val_proba, val.y, CONFORMAL_ALPHA)
        pick = np.random.default_rng(self.random_state).permutation(train.n_samples)[:2048]
        self.calibration_ = (train.windows[pick], train.rhythm[pick])
        progress("fitted", 1.0)
        return self

    def _fit_candidate(self, name: str, train: BeatDataset, val: BeatDataset, n_classes: int,
                       progress: Progress) -> Any:
        if name == "gradient-boosting":
            from medmaas.kinds.signal.boosting import fit_boosting

            progress("fitting trees", 0.0)
            return fit_boosting(train.windows, train.rhythm, train.y, self.random_state)
        import torch

        from medmaas.kinds.signal.networks import build_classifier
        from medmaas.kinds.signal.training import FitSettings, train_network

        torch.manual_seed(self.random_state)
        model = build_classifier(name, n_classes, train.windows, train.rhythm)
        settings = FitSettings(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                               patience=self.patience, seed=self.random_state)
        self.outcomes_[name] = train_network(model, (train.windows, train.rhythm, train.y),
                                             (val.windows, val.rhythm, val.y), settings, n_classes, progress)
        return model

    def predict_native(self, dataset: Dataset) -> np.ndarray:
        ds = _beats(dataset)
        return _predict(self.model_, ds.windows, ds.rhythm)

    def export(self, directory: Path, dataset: Dataset) -> ModelSpec:
        from medmaas.kinds.signal import boosting, export

        directory.mkdir(parents=True, exist_ok=True)
        windows, rhythm = self.calibration_
        variants = {}
        if self.estimator_ == "gradient-boosting":
            onnx_bytes = boosting.to_onnx(self.model_)
        else:
            onnx_bytes = export.to_onnx(self.model_, windows, rhythm)
            if self.quantize and self.estimator_ == "cnn":
                (directory / INT8_FILE).write_bytes(export.quantize_int8(onnx_bytes, windows, rhythm,
                                                                         seed=self.random_state))
                variants["int8"] = INT8_FILE
        (directory / "model.onnx").write_bytes(onnx_bytes)
        return ModelSpec(
            kind=self.name, task="classification", estimator=self.estimator_,
            inputs=[FeatureSpec(name="beat", type="signal", unit="mV", shape=[WINDOW],
                                description=(f"one beat: {WINDOW} samples at {MODEL_RATE} Hz around its R peak, "
                                             f"band-passed {BAND_HZ[0]}-{BAND_HZ[1]} Hz; cut by the server "
                                             "from a whole recording")),
                    FeatureSpec(name="rhythm", type="signal", unit="s", shape=[len(RR_FEATURES)],
                                description="RR features: " + ", ".join(RR_FEATURES))],
            output=OutputSpec(target="beat_class", task="classification", classes=list(self.classes_)),
            onnx=OnnxBinding(inputs={"beat": "beat", "rhythm": "rhythm"},
                             input_dtypes={"beat": "float32", "rhythm": "float32"},
                             probability_output="probabilities", variants=variants),
            explain=ExplainSpec(method="occlusion"),
            extra={"lead": self.lead_, "sampling_rate": MODEL_RATE, "window": WINDOW,
                   "band_hz": list(BAND_HZ), "conformal_q": self.conformal_q_, "conformal_alpha": CONFORMAL_ALPHA},
        )

    def onnx_inputs(self, dataset: Dataset) -> Batch:
        """The beats of a dataset as a batch; each beat stands for a one-beat recording."""
        ds = _beats(dataset)
        records = [{"recording": i, "lead": ds.lead, "sampling_rate": float(MODEL_RATE),
                    "seconds": WINDOW / MODEL_RATE, "source": "dataset", "beats_at_edges_skipped": 0,
                    "notes": [], "peaks": np.array([BEFORE])} for i in range(ds.n_samples)]
        return Batch(feeds={"beat": ds.windows.astype(np.float32), "rhythm": ds.rhythm.astype(np.float32)},
                     n=ds.n_samples, records=records, warnings=[[] for _ in range(ds.n_samples)])

    def extra_card(self) -> dict[str, Any]:
        outcomes = {name: {"epochs_run": o.epochs_run, "best_epoch": o.best_epoch,
                           "best_validation_macro_f1": round(o.best_val_macro_f1, 4), "seconds": round(o.seconds, 1)}
                    for name, o in self.outcomes_.items()}
        return {
            "preprocessing": (f"lead {self.lead_}, resampled to {MODEL_RATE} Hz, band-pass {BAND_HZ[0]}-{BAND_HZ[1]} Hz "
                              "(zero-phase Butterworth), R peaks by NeuroKit2, beat window 0.27 s before to 0.44 s "
                              "after R, RR features " + ", ".join(RR_FEATURES)),
            "validation": self.validation_how_,
            "validation_macro_f1": round(self.val_macro_f1_, 4),
            "networks": outcomes,
            "loss": "square-root inverse-frequency class-weighted cross-entropy; gain and noise augmentation",
        }

    # ---- serving side ----------------------------------------------------------------
    @classmethod
    def decode(cls, spec: ModelSpec, payload: Any) -> Batch:
        rows = payload.get("rows") if isinstance(payload, Mapping) else payload
        return codec.decode_rows(spec, rows)

    @classmethod
    def decode_files(cls, spec: ModelSpec, files: Mapping[str, bytes], options: Mapping[str, str]) -> Batch:
        return codec.decode_files(spec, files, options)

    @classmethod
    def decode_file(cls, spec: ModelSpec, data: bytes, filename: str = "") -> Batch:
        return codec.decode_files(spec, {filename: data}, {})

    @classmethod
    def explain(cls, spec: ModelSpec, bundle_dir: Path, run: InferenceFn, batch: Batch,
                top_k: int = 10) -> list[dict[str, Any]]:
        from medmaas.kinds.signal.explaining import explain_batch

        return explain_batch(spec, run, batch)


def _predict(model: Any, windows: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba"):  # the trees
        from medmaas.kinds.signal.boosting import features

        return np.asarray(model.predict_proba(features(windows, rhythm)), dtype=np.float64)
    from medmaas.kinds.signal.training import predict_proba

    return predict_proba(model, windows, rhythm)


def _beats(dataset: Dataset) -> BeatDataset:
    from medmaas.kinds.signal.dataset import BeatDataset

    if not isinstance(dataset, BeatDataset):
        raise InvalidInputError(f"the signal kind needs a BeatDataset; got {type(dataset).__name__}")
    return dataset
