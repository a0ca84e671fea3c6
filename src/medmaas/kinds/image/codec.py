"""Serving side of the image kind: arrays or files in, ONNX feeds; probabilities out.

Needs numpy and scipy; file uploads also need the imaging extra (pydicom, nibabel, Pillow).
Every image is conformed to the model's input shape by the same function training used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medmaas.bundle.spec import ModelSpec
from medmaas.exceptions import PayloadTooLargeError, SchemaError
from medmaas.kinds.base import Batch
from medmaas.kinds.image.conform import conform, describe

#: An image request is heavier than a table row: a JSON array of 64 CT-sized images is ~100 MB.
MAX_IMAGES_PER_REQUEST = 64


def input_shape(spec: ModelSpec) -> list[int]:
    shape = spec.inputs[0].shape
    if not shape:
        raise SchemaError("this model's spec declares no image shape")
    return shape


def feed_name(spec: ModelSpec) -> str:
    """The ONNX input the image goes to."""
    field = spec.inputs[0].name
    return spec.onnx.inputs.get(field, field)


def decode_rows(spec: ModelSpec, rows: Any) -> Batch:
    """``[{"image": nested list}, ...]``: channels first; a 1-channel model also takes the
    array without its channel axis (H×W, or D×H×W)."""
    if not isinstance(rows, Sequence) or isinstance(rows, str | bytes) or not rows:
        raise SchemaError('send {"rows": [{"image": [[...], ...]}, ...]}: a non-empty list of objects')
    if len(rows) > MAX_IMAGES_PER_REQUEST:
        raise PayloadTooLargeError(f"{len(rows)} images exceed the limit of {MAX_IMAGES_PER_REQUEST} "
                                   "per request")
    shape = input_shape(spec)
    field = spec.inputs[0].name
    pixels, records, warnings = [], [], []
    for i, row in enumerate(rows):
        where = f"row {i}"
        if not isinstance(row, Mapping):
            raise SchemaError(f"{where}: each row must be an object {{{field!r}: array}}")
        unknown = sorted(set(row) - {field})
        if unknown:
            raise SchemaError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
                              f"an image model takes only {field!r}")
        if field not in row:
            raise SchemaError(f"{where}: field {field!r} is required: a {describe(shape)} array")
        array = _array(row[field], f"{where} field {field!r}")
        if array.ndim == len(shape) - 1 and shape[0] == 1:
            array = array[None]
        image, notes = conform(array, shape, where=f"{where} field {field!r}")
        pixels.append(image)
        records.append({"source": "array"})
        warnings.append(notes)
    return Batch(feeds={feed_name(spec): np.stack(pixels)}, n=len(pixels),
                 records=records, warnings=warnings)


def decode_file(spec: ModelSpec, data: bytes, filename: str = "") -> Batch:
    """One uploaded file (DICOM, NIfTI, PNG or JPEG), recognised by its bytes; DICOM files
    are de-identified as they are parsed."""
    from medmaas.kinds.image.io import read_image

    shape = input_shape(spec)
    image = read_image(data, filename)
    where = filename or "the uploaded file"
    pixels, notes = conform(image.pixels, shape, where=where)
    record = {"source": image.format, "modality": image.modality, "notes": list(image.notes)}
    return Batch(feeds={feed_name(spec): pixels[None]}, n=1, records=[record],
                 warnings=[notes])


def _array(value: Any, where: str) -> np.ndarray:
    if not isinstance(value, list):
        raise SchemaError(f"{where} must be a nested list of numbers (channels first); got "
                          f"{type(value).__name__}")
    try:
        array = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError):
        raise SchemaError(f"{where} must be a rectangular nested list of numbers (rows of equal "
                          "length, no text or nulls)") from None
    if array.size == 0:
        raise SchemaError(f"{where} is empty")
    return array


def encode(spec: ModelSpec, outputs: Mapping[str, np.ndarray], batch: Batch) -> list[dict[str, Any]]:
    from medmaas.kinds.outputs import encode_outputs

    predictions = encode_outputs(spec, outputs, batch)
    for item, record in zip(predictions, batch.records, strict=True):
        item["input"] = {k: v for k, v in record.items() if v not in (None, [])}
    return predictions
