"""The fitted Pipeline, preprocessing included, as one ONNX graph."""

from __future__ import annotations

from typing import Any

from medmaas.data.dataset import ColumnInfo
from medmaas.kinds.tabular.preprocess import safe_names

# ONNX opset 17 / ai.onnx.ml 3: supported by every onnxruntime since 1.14.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


def to_onnx(pipeline: Any, columns: tuple[ColumnInfo, ...], task: str) -> tuple[bytes, dict[str, str]]:
    """Serialised ONNX model and the names of its outputs, for the spec's binding."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    from medmaas import __version__
    from medmaas.kinds.tabular import onnx_mlp

    onnx_mlp.register()
    names = safe_names(columns)
    initial_types = [
        (names[c.name], FloatTensorType([None, 1]) if c.type == "numeric" else StringTensorType([None, 1]))
        for c in columns
    ]
    options = {id(pipeline.steps[-1][1]): {"zipmap": False}} if task == "classification" else None
    model = convert_sklearn(pipeline, initial_types=initial_types, options=options,
                            target_opset=TARGET_OPSET, doc_string=f"medmaas {__version__} tabular {task}")
    outputs = [o.name for o in model.graph.output]
    if task == "classification":
        binding = {"label_output": outputs[0], "probability_output": outputs[1]}
    else:
        binding = {"value_output": outputs[0]}
    return model.SerializeToString(), binding
