"""skl2onnx converters for the torch MLP candidates: Gemm/ReLU layers from the stored weights.

Registering the MLP with skl2onnx lets the whole Pipeline (imputation, scaling, one-hot, MLP)
convert in one call, the same way as the scikit-learn candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skl2onnx import update_registered_converter
from skl2onnx.algebra.onnx_ops import OnnxArgMax, OnnxGemm, OnnxIdentity, OnnxRelu, OnnxSoftmax
from skl2onnx.common.shape_calculator import (
    calculate_linear_classifier_output_shapes,
    calculate_linear_regressor_output_shapes,
)

from medmaas.kinds.tabular.mlp import TorchMLPClassifier, TorchMLPRegressor


def _layers(op: Any, x: Any, opv: int) -> Any:
    h = x
    for i, (W, b) in enumerate(zip(op.coefs_, op.intercepts_, strict=True)):
        h = OnnxGemm(h, W.astype(np.float32), b.astype(np.float32), op_version=opv)
        if i < len(op.coefs_) - 1:
            h = OnnxRelu(h, op_version=opv)
    return h


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    op, opv = operator.raw_operator, container.target_opset
    logits = _layers(op, operator.inputs[0], opv)
    # Class indices are 0..k-1 by construction (the kind encodes labels), so argmax is the label.
    label = OnnxArgMax(logits, axis=1, keepdims=0, op_version=opv, output_names=[operator.outputs[0]])
    proba = OnnxSoftmax(logits, axis=1, op_version=opv, output_names=[operator.outputs[1]])
    label.add_to(scope, container)
    proba.add_to(scope, container)


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    op, opv = operator.raw_operator, container.target_opset
    out = OnnxIdentity(_layers(op, operator.inputs[0], opv), op_version=opv,
                       output_names=[operator.outputs[0]])
    out.add_to(scope, container)


def register() -> None:
    """Idempotent: skl2onnx keeps one converter per class."""
    update_registered_converter(
        TorchMLPClassifier, "MedmaasTorchMLPClassifier",
        calculate_linear_classifier_output_shapes, _convert_classifier,
        options={"zipmap": [False, True], "nocl": [False, True]},
    )
    update_registered_converter(
        TorchMLPRegressor, "MedmaasTorchMLPRegressor",
        calculate_linear_regressor_output_shapes, _convert_regressor,
    )
