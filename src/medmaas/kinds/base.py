"""The kind protocol: what every modality implements, and the registry of kinds.

A kind has two sides. The training side (``read``, ``fit``, ``predict_native``, ``export``)
may use the heavy stacks in ``medmaas[train]``. The serving side (``decode``, ``encode``,
``explain``) is made of classmethods that need only the bundle's ``spec.json``, onnxruntime and
numpy, so a server can load any bundle without the training stack and without executing code
from the bundle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from medmaas.exceptions import ConflictError, NotFoundError, SchemaError

if TYPE_CHECKING:
    from typing import Self

    from medmaas.bundle.spec import ModelSpec
    from medmaas.data.dataset import Dataset

#: progress(message, fraction in [0, 1]); callers wire it to a rich bar or to a build job.
Progress = Callable[[str, float], None]


def no_progress(message: str, fraction: float) -> None:
    """The progress sink used when nobody is watching."""


@dataclass(frozen=True)
class Batch:
    """A decoded request: ONNX feeds for ``n`` samples plus what explain needs to name them."""

    feeds: dict[str, np.ndarray]
    n: int
    #: each sample as the request gave it (explanations name its values); a list, or a view
    #: that makes them when read
    records: Sequence[dict[str, Any]]
    warnings: list[list[str]]


class InferenceFn:
    """Anything that runs a bundle's ONNX graph: ``fn(feeds) -> {output name: array}``."""

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


class Kind(ABC):
    """One modality. Constructors only store their arguments; ``fit`` returns self and sets
    learned state in attributes ending with ``_``."""

    name: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]]
    #: Requests up to this many rows are decoded and encoded on the server's event loop (≤ ~0.2 ms
    #: for table rows), bigger ones in a worker thread; kinds whose decoding is heavy (images:
    #: resampling) set 0.
    loop_rows: ClassVar[int] = 64
    #: Most samples per ONNX call; bigger batches are split (a transformer's attention grows
    #: with rows × tokens²). None: no limit.
    call_rows: ClassVar[int | None] = None

    def __init__(self, task: str = "classification", *, candidates: list[str] | None = None,
                 cv_folds: int = 5, test_size: float = 0.2, select_k: int | None = None,
                 random_state: int = 0, units: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """The settings every kind takes from ``TrainOptions``; kinds add their own keywords and
        pass these on. ``cv_folds`` is for kinds that choose candidates by cross-validation (the
        networks choose on a validation split instead; text uses it for its baseline's C)."""
        self.task = task
        self.candidates = candidates
        self.cv_folds = cv_folds
        self.test_size = test_size
        self.select_k = select_k
        self.random_state = random_state
        self.units = units

    # ---- training side -------------------------------------------------------------
    @classmethod
    @abstractmethod
    def read(cls, source: Path | bytes, *, target: str, name: str, task: str | None = None,
             **options: Any) -> Dataset:
        """Read and validate a source into a Dataset; DataError with a clear message otherwise."""

    @abstractmethod
    def split(self, dataset: Dataset) -> tuple[Dataset, Dataset, str]:
        """Hold-out split: (train, test, a sentence describing how it was drawn)."""

    @abstractmethod
    def fit(self, dataset: Dataset, progress: Progress = no_progress) -> Self:
        """Select a candidate by cross-validation on ``dataset`` and refit it on all of it."""

    @abstractmethod
    def predict_native(self, dataset: Dataset) -> np.ndarray:
        """Predictions of the fitted model in the training framework: P(class) (n, k) or values (n,)."""

    @abstractmethod
    def export(self, directory: Path, dataset: Dataset) -> ModelSpec:
        """Write model.onnx (and any kind files) into ``directory``; return the spec."""

    @abstractmethod
    def onnx_inputs(self, dataset: Dataset) -> Batch:
        """The ONNX feeds for a dataset's samples, used for the parity check and for explain."""

    def subgroups(self, dataset: Dataset) -> dict[str, np.ndarray]:
        """Variables to report hold-out metrics within (sex, age band, ...); none by default."""
        return {}

    def extra_card(self) -> dict[str, Any]:
        """Kind-specific facts for the model card (limitations, preprocessing); none by default."""
        return {}

    # ---- serving side: spec only, no training stack ----------------------------------
    @classmethod
    def attach(cls, spec: ModelSpec, bundle_dir: Path) -> None:
        """Load the bundle files the serving side needs besides spec.json (a tokenizer, ...)
        into ``spec.memo``; called once by ``load_bundle``. Data files only, never code.
        Kinds whose spec says everything (tables, images) need nothing."""
        return None

    @classmethod
    @abstractmethod
    def decode(cls, spec: ModelSpec, payload: Any) -> Batch:
        """Validate a request payload against the spec; SchemaError naming the field otherwise."""

    @classmethod
    def decode_file(cls, spec: ModelSpec, data: bytes, filename: str = "") -> Batch:
        """Validate one uploaded file (an image, a recording, ...); kinds without files refuse."""
        raise SchemaError(f"{cls.name} models take JSON rows, not file uploads")

    @classmethod
    def decode_files(cls, spec: ModelSpec, files: Mapping[str, bytes], options: Mapping[str, str]) -> Batch:
        """Validate the files of one upload (a WFDB record is a header plus data files) and the
        upload's options (query parameters such as a sampling rate). Kinds that read one file
        and take no options keep this default."""
        if options:
            raise SchemaError(f"unknown option(s) {', '.join(map(repr, sorted(options)))}: {cls.name} "
                              "uploads take none")
        if len(files) != 1:
            raise SchemaError(f"{cls.name} models read one file per request; got {len(files)}")
        ((filename, data),) = files.items()
        return cls.decode_file(spec, data, filename)

    @classmethod
    @abstractmethod
    def encode(cls, spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
        """Turn ONNX outputs into one JSON-ready prediction per sample."""

    @classmethod
    def scores(cls, spec: ModelSpec, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """ONNX outputs as the same array ``predict_native`` returns (for parity and metrics):
        the probabilities, or the value for regression, as ``spec`` names them."""
        from medmaas.kinds.outputs import scores_from_outputs

        return scores_from_outputs(spec, outputs)

    @classmethod
    @abstractmethod
    def explain(cls, spec: ModelSpec, bundle_dir: Path, run: InferenceFn, batch: Batch,
                top_k: int = 10) -> list[dict[str, Any]]:
        """Per-sample explanations (feature contributions, saliency, ...)."""

    @classmethod
    def global_importance(cls, spec: ModelSpec, bundle_dir: Path, run: InferenceFn,
                          batch: Batch) -> dict[str, float]:
        """Importance of each input over a sample; empty where the kind has no such notion."""
        return {}



class CodecServing:
    """Serving through the kind package's ``codec`` module (``decode_file`` and ``encode``), for
    kinds that keep their serving code apart from the training class. Listed before ``Kind``:
    ``class ImageKind(CodecServing, Kind)`` with ``codec = <the package's codec module>``."""

    codec: ClassVar[Any]

    @classmethod
    def decode_file(cls, spec: ModelSpec, data: bytes, filename: str = "") -> Batch:
        return cls.codec.decode_file(spec, data, filename)  # type: ignore[no-any-return]

    @classmethod
    def encode(cls, spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
        return cls.codec.encode(spec, outputs, batch)  # type: ignore[no-any-return]

K = TypeVar("K", bound=type[Kind])
_KINDS: dict[str, type[Kind]] = {}


def register_kind(name: str) -> Callable[[K], K]:
    """Class decorator: make a kind available under ``name``; duplicate names raise.

    >>> @register_kind("example")  # doctest: +SKIP
    ... class ExampleKind(Kind): ...
    """

    def decorate(cls: K) -> K:
        if name in _KINDS and _KINDS[name] is not cls:
            raise ConflictError(f"kind '{name}' is already registered by {_KINDS[name].__qualname__}")
        cls.name = name
        _KINDS[name] = cls
        return cls

    return decorate


def get_kind(name: str) -> type[Kind]:
    """The kind class registered under ``name``.

    >>> get_kind("tabular").name
    'tabular'
    """
    _load_builtin_kinds()
    try:
        return _KINDS[name]
    except KeyError:
        raise NotFoundError(f"unknown kind '{name}'; known kinds: {', '.join(sorted(_KINDS))}") from None


def kind_names() -> Sequence[str]:
    _load_builtin_kinds()
    return sorted(_KINDS)


def _load_builtin_kinds() -> None:
    # Importing a kind's package registers it; the modules import heavy stacks only inside fit.
    import medmaas.kinds.image  # noqa: F401
    import medmaas.kinds.signal  # noqa: F401
    import medmaas.kinds.tabular  # noqa: F401
    import medmaas.kinds.text  # noqa: F401
    import medmaas.kinds.timeseries  # noqa: F401
