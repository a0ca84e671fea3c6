"""A trained CNN to ONNX (normalisation and softmax inside), and its int8 variant.

The int8 model is quantized statically (QDQ, per-channel weights) with onnxruntime's
quantization tool, calibrated on training images; the model card then compares it with fp32
on the hold-out split before one of them is chosen for serving.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.kinds.exporting import quiet_exporter

logger = logging.getLogger(__name__)

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
OPSET = 18
CALIBRATION_IMAGES = 256


def to_onnx(model: Any, example: np.ndarray) -> bytes:
    """The deployable model as ONNX with a dynamic batch axis."""
    import torch

    model.eval()
    sample = torch.from_numpy(np.ascontiguousarray(example[:2], dtype=np.float32))
    with tempfile.TemporaryDirectory(prefix="medmaas-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        with quiet_exporter():
            torch.onnx.export(model, (sample,), str(path), input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], opset_version=OPSET, dynamo=True,
                              verbose=False, external_data=False,
                              dynamic_shapes={INPUT_NAME: {0: torch.export.Dim("batch", min=1)}})
        return path.read_bytes()


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol over a sample of training images."""

    def __init__(self, images: np.ndarray) -> None:
        self._batches = iter([{INPUT_NAME: images[i:i + 16].astype(np.float32)}
                              for i in range(0, len(images), 16)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(onnx_bytes: bytes, calibration: np.ndarray, seed: int = 0) -> bytes:
    """Static int8 quantization (QDQ, per-channel weights, calibrated by min-max)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    rng = np.random.default_rng(seed)
    sample = calibration[rng.permutation(len(calibration))[:CALIBRATION_IMAGES]]
    with tempfile.TemporaryDirectory(prefix="medmaas-int8-") as tmp:
        fp32, prepared, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "prep.onnx", Path(tmp) / "int8.onnx"
        fp32.write_bytes(onnx_bytes)
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(int8), _Calibration(sample), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        # The softmax and the normalisation stay in float: they are cheap and
                        # quantizing them costs accuracy for nothing.
                        op_types_to_quantize=["Conv", "MatMul", "Gemm", "Add", "Relu",
                                              "GlobalAveragePool", "AveragePool", "MaxPool"])
        return int8.read_bytes()
