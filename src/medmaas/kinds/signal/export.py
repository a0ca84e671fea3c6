"""Beat networks to ONNX (recurrent layers included) and their int8 variant.

The CNN is quantized statically (QDQ, per-channel weights, calibrated on training beats), as
the image kind's CNNs are. The LSTM and GRU keep float weights: onnxruntime's quantizer leaves
recurrent operators in float, so an "int8" file would only quantize the head.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from medmaas.kinds.exporting import quiet_exporter

BEAT_INPUT, RHYTHM_INPUT = "beat", "rhythm"
OUTPUT_NAME = "probabilities"
OPSET = 18
CALIBRATION_BEATS = 512


def to_onnx(model: Any, windows: np.ndarray, rhythm: np.ndarray) -> bytes:
    """The network as ONNX with a dynamic batch axis (recurrent layers become ONNX LSTM/GRU)."""
    import torch

    model.eval()
    example = (torch.from_numpy(np.ascontiguousarray(windows[:2], np.float32)),
               torch.from_numpy(np.ascontiguousarray(rhythm[:2], np.float32)))
    batch = torch.export.Dim("batch", min=1)
    with tempfile.TemporaryDirectory(prefix="medmaas-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        with quiet_exporter():
            torch.onnx.export(model, example, str(path), input_names=[BEAT_INPUT, RHYTHM_INPUT],
                              output_names=[OUTPUT_NAME], opset_version=OPSET, dynamo=True,
                              external_data=False,
                              dynamic_shapes={"beat": {0: batch}, "rhythm": {0: batch}})
        return path.read_bytes()


class _Calibration:
    """onnxruntime's CalibrationDataReader protocol over a sample of training beats."""

    def __init__(self, windows: np.ndarray, rhythm: np.ndarray) -> None:
        self._batches = iter([{BEAT_INPUT: windows[i:i + 64], RHYTHM_INPUT: rhythm[i:i + 64]}
                              for i in range(0, len(windows), 64)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def quantize_int8(onnx_bytes: bytes, windows: np.ndarray, rhythm: np.ndarray, seed: int = 0) -> bytes:
    """Static int8 quantization of the convolutions and dense layers (QDQ, per-channel)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pick = np.random.default_rng(seed).permutation(len(windows))[:CALIBRATION_BEATS]
    with tempfile.TemporaryDirectory(prefix="medmaas-int8-") as tmp:
        fp32, prepared, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "prep.onnx", Path(tmp) / "int8.onnx"
        fp32.write_bytes(onnx_bytes)
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(int8),
                        _Calibration(windows[pick].astype(np.float32), rhythm[pick].astype(np.float32)),
                        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                        # normalisation, the RR logarithm and the softmax stay in float
                        op_types_to_quantize=["Conv", "MatMul", "Gemm", "Relu", "MaxPool"])
        return int8.read_bytes()
