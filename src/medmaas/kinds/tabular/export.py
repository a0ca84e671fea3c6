"""The fitted Pipeline, preprocessing included, as one ONNX graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medmaas.data.dataset import ColumnInfo

# ONNX opset 17 / ai.onnx.ml 3: supported by every onnxruntime since 1.14.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
#: The one input that carries every numeric feature as the columns of a float32 matrix.
NUMERIC_INPUT = "numeric"


def input_binding(columns: tuple[ColumnInfo, ...]) -> dict[str, Any]:
    """How features reach the graph: numeric ones packed into one matrix, text ones one each.

    One tensor for 30 lab values instead of 30 tensors halves the cost of a one-row call in
    onnxruntime (measured: 25 µs to 11 µs for the breast-cancer model), and the server can
    join the matrices of concurrent requests with a single concatenate.
    """
    from medmaas.kinds.tabular.preprocess import safe_names

    names = safe_names(columns)
    numeric = [c.name for c in columns if c.type == "numeric"]
    return {
        "inputs": {c.name: names[c.name] for c in columns if c.type != "numeric"},
        "packed": {NUMERIC_INPUT: numeric} if numeric else {},
        "input_dtypes": {c.name: "float32" if c.type == "numeric" else "string" for c in columns},
    }


def to_onnx(pipeline: Any, columns: tuple[ColumnInfo, ...], task: str) -> tuple[bytes, dict[str, str]]:
    """Serialised ONNX model and the names of its outputs, for the spec's binding."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    from medmaas import __version__
    from medmaas.kinds.tabular import onnx_mlp
    from medmaas.kinds.tabular.preprocess import safe_names

    onnx_mlp.register()
    names = safe_names(columns)
    initial_types = [
        (names[c.name], FloatTensorType([None, 1]) if c.type == "numeric" else StringTensorType([None, 1]))
        for c in columns
    ]
    options = {id(pipeline.steps[-1][1]): {"zipmap": False}} if task == "classification" else None
    model = convert_sklearn(pipeline, initial_types=initial_types, options=options,
                            target_opset=TARGET_OPSET, doc_string=f"medmaas {__version__} tabular {task}")
    numeric = [names[c.name] for c in columns if c.type == "numeric"]
    if numeric:
        _pack_inputs(model, numeric, NUMERIC_INPUT)
    outputs = [o.name for o in model.graph.output]
    if task == "classification":
        binding = {"label_output": outputs[0], "probability_output": outputs[1]}
    else:
        binding = {"value_output": outputs[0]}
    return model.SerializeToString(), binding


def _pack_inputs(model: Any, inputs: list[str], packed_name: str) -> None:
    """Replace the float inputs ``inputs`` [n, 1] by one input [n, k] split inside the graph."""
    import onnx
    from onnx import TensorProto, helper

    kept = [i for i in model.graph.input if i.name not in set(inputs)]
    split = helper.make_node("Split", [packed_name], list(inputs), axis=1, name="medmaas_unpack")
    model.graph.node.insert(0, split)
    del model.graph.input[:]
    model.graph.input.append(
        helper.make_tensor_value_info(packed_name, TensorProto.FLOAT, [None, len(inputs)]))
    model.graph.input.extend(kept)
    onnx.checker.check_model(model)
