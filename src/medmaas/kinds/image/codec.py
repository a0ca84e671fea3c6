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
        image, notes = _conformed(spec, _array(row[field], f"{where} field {field!r}"), f"{where} field {field!r}")
        pixels.append(image)
        records.append({"source": "array"})
        warnings.append(notes)
    return Batch(feeds={feed_name(spec): np.stack(pixels)}, n=len(pixels),
                 records=records, warnings=warnings)


def decode_array(spec: ModelSpec, images: np.ndarray, where: str = "the array") -> Batch:
    """A stack of images, (n, channels, *spatial) on the display scale 0..255 (a 1-channel model
    also takes (n, *spatial)): each one checked and conformed exactly as a JSON row's image."""
    if images.ndim < 2 or images.shape[0] == 0:
        raise SchemaError(f"{where} must hold at least one image: (n, channels, *spatial); got shape "
                          f"{list(images.shape)}")
    if images.shape[0] > MAX_IMAGES_PER_REQUEST:
        raise PayloadTooLargeError(f"{images.shape[0]} images exceed the limit of {MAX_IMAGES_PER_REQUEST} "
                                   "per request")
    pixels, warnings = [], []
    for i, image in enumerate(images):
        conformed, notes = _conformed(spec, image.astype(np.float32), f"{where} image {i}")
        pixels.append(conformed)
        warnings.append(notes)
    return Batch(feeds={feed_name(spec): np.stack(pixels)}, n=len(pixels),
                 records=[{"source": "array"} for _ in pixels], warnings=warnings)


def _conformed(spec: ModelSpec, array: np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    shape = input_shape(spec)
    if array.ndim == len(shape) - 1 and shape[0] == 1:
        array = array[None]
    return conform(array, shape, where=where)


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
