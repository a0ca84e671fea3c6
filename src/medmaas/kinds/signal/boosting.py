"""The baseline a cardiology data scientist would try first: gradient-boosted trees on
handcrafted beat features — the RR intervals and the beat's shape sampled every 22 ms (de
Chazal et al. 2004 used the same two families). Its ONNX graph takes the same inputs as the
networks: the feature extraction is written as ONNX Slice and Concat in front of the trees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medmaas.kinds.signal.export import BEAT_INPUT, OPSET, OUTPUT_NAME, RHYTHM_INPUT
from medmaas.kinds.signal.processing import RR_FEATURES, WINDOW

#: Every 4th sample of the 180 Hz window: 32 points, enough to draw the P, QRS and T waves.
SHAPE_STEP = 4
#: Trees are fitted on at most this many beats per class (the N class alone has 70,000 in
#: MIT-BIH): scikit-learn's exact gradient boosting grows linearly with rows, and 90% normal
#: beats would teach it little more.
MAX_PER_CLASS = 4000


def features(windows: np.ndarray, rhythm: np.ndarray) -> np.ndarray:
    """The handcrafted features, exactly as the ONNX graph computes them."""
    return np.concatenate([windows[:, ::SHAPE_STEP], rhythm], axis=1).astype(np.float32)


def balanced_sample(y: np.ndarray, seed: int) -> np.ndarray:
    """At most MAX_PER_CLASS beats of each class, drawn at random."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(y == c))[:MAX_PER_CLASS] for c in np.unique(y)]
    return np.sort(np.concatenate(picks))


def fit_boosting(windows: np.ndarray, rhythm: np.ndarray, y: np.ndarray, seed: int) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    pick = balanced_sample(y, seed)
    model = GradientBoostingClassifier(n_estimators=150, learning_rate=0.1, max_depth=4, subsample=0.8,
                                       random_state=seed)
    return model.fit(features(windows[pick], rhythm[pick]), y[pick])


def to_onnx(model: Any) -> bytes:
    """Trees as ONNX, with Slice (every SHAPE_STEP-th sample) and Concat (RR features) before."""
    import onnx
    from onnx import TensorProto, helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    n_features = WINDOW // SHAPE_STEP + len(RR_FEATURES)
    trees = convert_sklearn(model, initial_types=[("features", FloatTensorType([None, n_features]))],
                            options={id(model): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 3})
    graph = trees.graph
    for output in graph.output:
        if output.name == "probabilities":
            break
    else:  # pragma: no cover - skl2onnx names it so for classifiers
        raise RuntimeError("skl2onnx produced no 'probabilities' output")
    del graph.input[:]
    graph.input.extend([
        helper.make_tensor_value_info(BEAT_INPUT, TensorProto.FLOAT, ["batch", WINDOW]),
        helper.make_tensor_value_info(RHYTHM_INPUT, TensorProto.FLOAT, ["batch", len(RR_FEATURES)]),
    ])
    constants = [helper.make_tensor(name, TensorProto.INT64, [1], [value]) for name, value in
                 (("shape_start", 0), ("shape_end", WINDOW), ("shape_axis", 1), ("shape_step", SHAPE_STEP))]
    graph.initializer.extend(constants)
    prefix = [
        helper.make_node("Slice", [BEAT_INPUT, "shape_start", "shape_end", "shape_axis", "shape_step"],
                         ["beat_shape"]),
        helper.make_node("Concat", ["beat_shape", RHYTHM_INPUT], ["features"], axis=1),
    ]
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(prefix + nodes)
    kept = [o for o in graph.output if o.name == OUTPUT_NAME]
    del graph.output[:]
    graph.output.extend(kept)
    onnx.checker.check_model(trees)
    return trees.SerializeToString()
