"""A bundle loaded for serving: its spec, its kind's serving side and an onnxruntime session.

Loading reads JSON and ONNX only: nothing in a bundle can execute code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.bundle.spec import SPEC_FORMAT, ModelSpec
from medmaas.exceptions import IntegrityError
from medmaas.kinds.base import Batch, Kind, get_kind
from medmaas.runtime.batcher import CallCost, measure_cost


def _session(path: Path, intra_threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Small tabular graphs: one thread per call avoids pool wake-up costs; concurrency comes
    # from the server running several calls at once, not from splitting one tiny call.
    options.intra_op_num_threads = intra_threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


@dataclass
class LoadedModel:
    """One model version ready to predict; safe to share between threads."""

    name: str
    version: int
    bundle_dir: Path
    spec: ModelSpec
    kind: type[Kind]
    session: Any
    card: dict[str, Any] = field(default_factory=dict)
    project: str = "default"
    #: the ONNX file the session runs (model.onnx or a variant)
    onnx_file: str = "model.onnx"
    output_names: list[str] = field(default_factory=list)
    #: What one inference call costs, measured at load; decides inline vs worker thread.
    cost: CallCost = field(default_factory=CallCost)

    def __post_init__(self) -> None:
        # Read once at load, not on every request.
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        # A dynamically quantized graph scales activations by the whole call's range, so a
        # sample's answer would depend on its neighbours: such files run one sample per call.
        if self.onnx_file in self.spec.extra.get("one_sample_per_call", ()):
            return run_chunked(lambda one: self._run_once(_unpadded(one)), feeds, 1)
        rows = self.kind.call_rows
        if rows is not None and feeds and len(next(iter(feeds.values()))) > rows:
            return run_chunked(self._run_once, feeds, rows)
        return self._run_once(feeds)

    def _run_once(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(None, dict(feeds)), strict=True))

    def decode(self, payload: Any) -> Batch:
        return self.kind.decode(self.spec, payload)

    def predict(self, batch: Batch) -> list[dict[str, Any]]:
        return self.kind.encode(self.spec, self.run(batch.feeds), batch)

    def explain(self, batch: Batch, top_k: int = 10) -> list[dict[str, Any]]:
        return self.kind.explain(self.spec, self.bundle_dir, self.run, batch, top_k)


def run_chunked(run: Any, feeds: Mapping[str, np.ndarray], rows: int = 64) -> dict[str, np.ndarray]:
    """``run`` over many samples, ``rows`` per call: a transformer's attention over hundreds of
    notes at once would need gigabytes."""
    n = len(next(iter(feeds.values()))) if feeds else 0
    parts = [run({k: v[start:start + rows] for k, v in feeds.items()}) for start in range(0, max(n, 1), rows)]
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _unpadded(feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One sample without the zero columns ``join_feeds`` padded it with (sequences only)."""
    sequences = [v for v in feeds.values() if v.ndim == 2]
    if not sequences:
        return dict(feeds)
    width = max((int(np.flatnonzero(v[0]).max()) + 1 if v[0].any() else 1) for v in sequences)
    return {k: v[:, :width] if v.ndim == 2 else v for k, v in feeds.items()}


def read_spec(bundle_dir: Path) -> ModelSpec:
    try:
        spec = ModelSpec.model_validate_json((bundle_dir / "spec.json").read_bytes())
    except FileNotFoundError:
        raise IntegrityError(f"bundle {bundle_dir.name} has no spec.json") from None
    if spec.format > SPEC_FORMAT:
        raise IntegrityError(f"bundle {bundle_dir.name} has spec format {spec.format}; this medmaas "
                             f"reads up to {SPEC_FORMAT}: upgrade medmaas to serve it")
    return spec


def load_bundle(bundle_dir: Path, *, name: str = "", version: int = 0, project: str = "default",
                intra_threads: int = 1, warm_up: bool = True, onnx_file: str | None = None) -> LoadedModel:
    """Load a bundle directory; with ``warm_up`` timed calls prime the session and measure
    what a call costs (first calls allocate arenas and pick kernels: pay that at load, not on
    a patient's request).

    The session runs the file the spec names for serving (``model.onnx`` or a variant such as
    ``model.int8.onnx``); ``onnx_file`` picks another one (training checks each of them)."""
    spec = read_spec(bundle_dir)
    onnx_file = onnx_file or spec.onnx.serve
    if onnx_file != "model.onnx" and onnx_file not in spec.onnx.variants.values():
        raise IntegrityError(f"bundle {bundle_dir.name} has no ONNX file {onnx_file!r}")
    card_path = bundle_dir / "card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    kind = get_kind(spec.kind)
    kind.attach(spec, bundle_dir)
    model = LoadedModel(name=name or bundle_dir.name, version=version, bundle_dir=bundle_dir,
                        spec=spec, kind=kind,
                        session=_session(bundle_dir / onnx_file, intra_threads), card=card,
                        project=project, onnx_file=onnx_file)
    if warm_up:
        # Sequences are timed at a typical note's length (64 tokens, or the model's limit if
        # shorter), so a text model's first real calls are not taken for one-token ones and run
        # on the event loop; timing at the limit (256) made loading MiniLM take 6.4 s, this 1.5 s.
        length = min(int(spec.extra.get("max_tokens", 1)), 64)
        model.cost = measure_cost(model.run, lambda rows: _zero_feeds(model.session, rows, length))
    return model


def _zero_feeds(session: Any, rows: int, length: int = 1) -> dict[str, np.ndarray]:
    """Zeros for every input: ``rows`` samples, ``length`` along any other dynamic axis."""
    feeds = {}
    for inp in session.get_inputs():
        shape = [rows if i == 0 else (d if isinstance(d, int) else length) for i, d in enumerate(inp.shape)]
        if inp.type == "tensor(string)":
            feeds[inp.name] = np.full(shape, "", dtype=object)
        else:
            dtype = np.float64 if "double" in inp.type else np.int64 if "int64" in inp.type else np.float32
            feeds[inp.name] = np.zeros(shape, dtype=dtype)
    return feeds
