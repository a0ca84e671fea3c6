"""Open Inference Protocol tensors on the wire: JSON ``data`` and Triton's binary tensor
extension, read into numpy arrays and written back.

A request is a JSON header, optionally followed by raw tensor bytes: the header is the first
``Inference-Header-Content-Length`` bytes of the body, and each input whose
``parameters.binary_data_size`` is set takes that many bytes of what follows, in input order.
Fixed-size datatypes travel little-endian, row-major; BYTES elements each carry a 4-byte
little-endian length before their bytes. Everything here checks what the protocol itself
promises (names, datatypes, element counts, byte sizes); what a model needs is checked by
``medmaas.api.v2.models``.

>>> body, length = encode_response(model_name="m", model_version="1", request_id=None,
...                                outputs=[OutputTensor("value", "FP32", np.zeros(2, np.float32))],
...                                binary={"value": True})
>>> length, len(body) - length
(133, 8)
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from medmaas.api.predicting import loads_allowing_nan
from medmaas.exceptions import SchemaError

#: Every datatype the protocol names that this server reads and writes, and its numpy dtype
#: on the wire (explicitly little-endian: the extension fixes the byte order).
DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
HEADER = "Inference-Header-Content-Length"
REQUEST_FIELDS = frozenset({"id", "parameters", "inputs", "outputs"})
#: Sent by clients besides the protocol's fields (KServe's InferRequest adds the model's
#: name); read past, never trusted: the URL names the model.
TOLERATED_FIELDS = frozenset({"model_name", "model_version"})
#: Triton's shared-memory and classification extensions, which this server does not offer.
UNSUPPORTED_PARAMETERS = {
    "shared_memory_region": "the shared-memory extension is not supported; send the tensor as JSON data or binary data",
    "shared_memory_byte_size": "the shared-memory extension is not supported; send the tensor as JSON data or binary data",
    "shared_memory_offset": "the shared-memory extension is not supported; send the tensor as JSON data or binary data",
    "classification": "the classification extension is not supported; request 'probabilities' (class names are in "
                      "the model metadata) or 'label'",
}
_LENGTH = struct.Struct("<I")


@dataclass(frozen=True)
class Tensor:
    """One input: its declared datatype and shape, and its elements as an array of that shape
    (BYTES: an object array of ``bytes``)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    array: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestedOutput:
    name: str
    #: None: as the request's ``binary_data_output`` says
    binary: bool | None = None


@dataclass(frozen=True)
class InferRequest:
    id: str | None
    inputs: dict[str, Tensor]
    #: None: every output the model gives
    outputs: list[RequestedOutput] | None
    parameters: dict[str, Any]

    @property
    def binary_output(self) -> bool:
        return self.parameters.get("binary_data_output") is True


@dataclass(frozen=True)
class OutputTensor:
    name: str
    datatype: str
    array: np.ndarray


_BYTE_COUNT = re.compile(r"[0-9]{1,15}")

def header_length(raw: str | bytes | None) -> int | None:
    """The ``Inference-Header-Content-Length`` header as a number of bytes, or None if absent."""
    if raw is None:
        return None
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    # ASCII digits only: "\xb2" (superscript two) passes str.isdigit() and then fails int().
    if _BYTE_COUNT.fullmatch(text.strip()) is None:
        raise SchemaError(f"the {HEADER} header must be a number of bytes; got {text[:40]!r}")
    return int(text)


def parse_request(body: bytes, length: int | None) -> InferRequest:
    """The inference request in ``body``; ``length`` is its JSON header's size (the
    ``Inference-Header-Content-Length`` header), None when the whole body is JSON."""
    if length is None:
        header, rest = body, memoryview(b"")
    else:
        if length > len(body):
            raise SchemaError(f"the {HEADER} header says the JSON header is {length} bytes, but the whole "
                              f"body is {len(body)} bytes")
        header, rest = body[:length], memoryview(body)[length:]
    payload = _json(header)
    unknown = sorted(set(payload) - REQUEST_FIELDS - TOLERATED_FIELDS)
    if unknown:
        raise SchemaError(f"unknown field(s) {', '.join(map(repr, unknown))} in the inference request; it "
                          "has 'inputs' and optionally 'id', 'outputs', 'parameters'")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise SchemaError(f"field 'id' must be a string; got {request_id!r}")
    parameters = _parameters(payload.get("parameters"), "the request")
    binary_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_output, bool):
        raise SchemaError(f"parameter 'binary_data_output' must be true or false; got {binary_output!r}")
    items = payload.get("inputs")
    if not isinstance(items, list) or not items:
        raise SchemaError("field 'inputs' is required: a non-empty list of {\"name\", \"shape\", \"datatype\", "
                          "\"data\"} objects")
    inputs: dict[str, Tensor] = {}
    offset = 0
    for i, item in enumerate(items):
        tensor, size = _input(item, i, rest, offset, length)
        if tensor.name in inputs:
            raise SchemaError(f"input {tensor.name!r} is given twice")
        inputs[tensor.name] = tensor
        offset += size
    if offset != len(rest):
        raise SchemaError(f"{len(rest)} bytes follow the {length}-byte JSON header, but the inputs' "
                          f"binary_data_size add up to {offset} bytes: the sizes and the body disagree")
    return InferRequest(id=request_id, inputs=inputs, outputs=_outputs(payload.get("outputs")),
                        parameters=parameters)


def _json(header: bytes) -> dict[str, Any]:
    if not header:
        raise SchemaError('the request body is empty; send JSON {"inputs": [...]}')
    try:
        # tritonclient sends NaN for a missing value in a float tensor: read as the NaN it means.
        payload = loads_allowing_nan(header)
    except ValueError as exc:
        raise SchemaError(f"the inference request's JSON header is not valid JSON: {exc}; with binary data, "
                          f"the {HEADER} header must give the JSON's exact size") from None
    if type(payload) is not dict:
        raise SchemaError('the inference request must be a JSON object {"inputs": [...]}')
    return payload


def _parameters(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SchemaError(f"'parameters' of {where} must be an object of name: value; got {value!r}")
    for name in value:
        if name in UNSUPPORTED_PARAMETERS:
            raise SchemaError(f"{where}: {UNSUPPORTED_PARAMETERS[name]}")
    return value


def _input(item: Any, i: int, rest: memoryview, offset: int, length: int | None) -> tuple[Tensor, int]:
    """One input tensor and how many bytes of binary data it took."""
    if not isinstance(item, dict):
        raise SchemaError(f"inputs[{i}] must be an object with name, shape, datatype and data")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise SchemaError(f"inputs[{i}] needs a 'name' (a non-empty string)")
    unknown = sorted(set(item) - {"name", "shape", "datatype", "parameters", "data"})
    if unknown:
        raise SchemaError(f"input {name!r}: unknown field(s) {', '.join(map(repr, unknown))}")
    datatype = item.get("datatype")
    if not isinstance(datatype, str) or datatype not in DTYPES:  # a list or object is unhashable
        raise SchemaError(f"input {name!r}: unknown datatype {datatype!r}; known: {', '.join(DTYPES)}")
    shape = _shape(item.get("shape"), f"input {name!r}")
    parameters = _parameters(item.get("parameters"), f"input {name!r}")
    size = parameters.get("binary_data_size")
    if size is None:
        if "data" not in item:
            raise SchemaError(f"input {name!r} has no data: send 'data', or binary data with "
                              "parameters.binary_data_size")
        return Tensor(name, datatype, shape, from_json(item["data"], datatype, shape, name), parameters), 0
    if length is None:
        raise SchemaError(f"input {name!r} declares parameters.binary_data_size, but the request has no {HEADER} "
                          "header to say where the JSON header ends and the binary data begins")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise SchemaError(f"input {name!r}: parameters.binary_data_size must be a number of bytes; got {size!r}")
    if "data" in item:
        raise SchemaError(f"input {name!r} has both 'data' and parameters.binary_data_size; send one of them")
    left = len(rest) - offset
    if size > left:
        raise SchemaError(f"input {name!r} declares binary_data_size {size}, but only {left} bytes of binary "
                          f"data are left after the {length}-byte JSON header and the inputs before it")
    array = from_binary(rest[offset:offset + size], datatype, shape, name)
    return Tensor(name, datatype, shape, array, parameters), size


def _shape(value: Any, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(type(d) is int and d >= 0 for d in value):
        raise SchemaError(f"{where}: 'shape' must be a list of non-negative integers; got {value!r}")
    return tuple(value)


def _count(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def from_binary(data: memoryview | bytes, datatype: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The elements of a binary tensor, as an array of ``shape``."""
    count = _count(shape)
    if datatype == "BYTES":
        return _bytes_elements(data, count, shape, name)
    dtype = DTYPES[datatype]
    expected = count * dtype.itemsize
    if len(data) != expected:
        raise SchemaError(f"input {name!r} ({datatype}, shape {list(shape)}) needs {expected} bytes of binary "
                          f"data; its binary_data_size is {len(data)}")
    if datatype == "BOOL":  # any non-zero byte is true, as in C
        return np.frombuffer(data, dtype=np.uint8).astype(np.bool_).reshape(shape)
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _bytes_elements(data: memoryview | bytes, count: int, shape: tuple[int, ...], name: str) -> np.ndarray:
    raw = bytes(data)
    elements: list[bytes] = []
    at = 0
    while at < len(raw):
        if at + 4 > len(raw):
            raise SchemaError(f"input {name!r} (BYTES): element {len(elements)} needs a 4-byte length, but only "
                              f"{len(raw) - at} bytes are left")
        (size,) = _LENGTH.unpack_from(raw, at)
        at += 4
        if at + size > len(raw):
            raise SchemaError(f"input {name!r} (BYTES): element {len(elements)} says it is {size} bytes long, but "
                              f"only {len(raw) - at} bytes are left")
        elements.append(raw[at:at + size])
        at += size
    if len(elements) != count:
        raise SchemaError(f"input {name!r} (BYTES) holds {len(elements)} elements; its shape {list(shape)} "
                          f"needs {count}")
    array = np.empty(count, dtype=object)
    array[:] = elements
    return array.reshape(shape)


def from_json(data: Any, datatype: str, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The elements of a JSON tensor (flat or nested, row-major), as an array of ``shape``."""
    where = f"input {name!r} ({datatype})"
    if not isinstance(data, list):
        raise SchemaError(f"{where}: 'data' must be a list of elements, flat or nested; got {type(data).__name__}")
    count = _count(shape)
    if datatype == "BYTES":
        array = _json_bytes(data, where)
    else:
        array = _json_numbers(data, datatype, where)
    if array.size != count:
        raise SchemaError(f"{where} holds {array.size} elements; its shape {list(shape)} needs {count}")
    return array.reshape(shape)


def _json_bytes(data: list[Any], where: str) -> np.ndarray:
    flat: list[bytes] = []
    stack = [iter(data)]
    while stack:  # depth-first over nested lists, so the order stays row-major
        for value in stack[-1]:
            if isinstance(value, list):
                stack.append(iter(value))
                break
            if not isinstance(value, str):
                raise SchemaError(f"{where}: BYTES elements in JSON must be strings; got {value!r}")
            flat.append(value.encode("utf-8", "surrogatepass"))
        else:
            stack.pop()
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    return array


def _json_numbers(data: list[Any], datatype: str, where: str) -> np.ndarray:
    dtype = DTYPES[datatype]
    try:
        array = np.asarray(data)
    except ValueError:
        raise SchemaError(f"{where}: nested 'data' must be rectangular (rows of equal length)") from None
    if array.dtype.kind in "US":
        raise SchemaError(f"{where}: 'data' holds text; send numbers")
    if datatype == "BOOL":
        if array.dtype.kind != "b":
            raise SchemaError(f"{where}: 'data' must hold true or false")
        return array
    if array.dtype.kind == "b":
        raise SchemaError(f"{where}: 'data' holds true/false; send numbers")
    if dtype.kind in "iu":
        if array.dtype.kind not in "iu":  # floats, nulls, integers past int64: one by one
            array = _whole_numbers(np.asarray(data, dtype=object), where)
        return _in_range(array, dtype, where)
    if array.dtype == object:
        array = _with_nulls(np.asarray(data, dtype=object), where)
    with np.errstate(over="ignore"):  # beyond FP16/FP32: infinity, which the model's checks refuse
        return array.astype(dtype)


def _elements(array: np.ndarray, where: str, *, nulls: bool) -> list[Any]:
    flat = array.astype(object).reshape(-1).tolist()
    for value in flat:
        if value is None:
            if not nulls:
                raise SchemaError(f"{where}: 'data' holds null; only float tensors may (null is read as NaN)")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(f"{where}: 'data' must hold numbers; got {value!r}")
    return flat


def _with_nulls(array: np.ndarray, where: str) -> np.ndarray:
    """JSON null in a float tensor is NaN (JSON has no NaN; orjson-based clients send null)."""
    return np.array(_elements(array, where, nulls=True), dtype=np.float64)


def _whole_numbers(array: np.ndarray, where: str) -> np.ndarray:
    values = _elements(array, where, nulls=False)
    if not all(isinstance(v, int) or (math.isfinite(v) and v == int(v)) for v in values):
        raise SchemaError(f"{where}: 'data' must hold whole numbers")
    out = np.empty(len(values), dtype=object)
    out[:] = [int(v) for v in values]  # Python ints: exact up to UINT64's maximum
    return out


def _in_range(array: np.ndarray, dtype: np.dtype[Any], where: str) -> np.ndarray:
    if array.size:
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            raise SchemaError(f"{where}: values must lie in {info.min}..{info.max}; got {low}..{high}")
    return array.astype(dtype)


def _outputs(value: Any) -> list[RequestedOutput] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise SchemaError("field 'outputs' must be a list of {\"name\": ...} objects")
    outputs = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise SchemaError(f"outputs[{i}] must be an object with a 'name'")
        parameters = _parameters(item.get("parameters"), f"output {item['name']!r}")
        binary = parameters.get("binary_data")
        if binary is not None and not isinstance(binary, bool):
            raise SchemaError(f"output {item['name']!r}: parameter 'binary_data' must be true or false; got {binary!r}")
        outputs.append(RequestedOutput(item["name"], binary))
    return outputs


def encode_response(*, model_name: str, model_version: str, request_id: str | None,
                    outputs: list[OutputTensor], binary: dict[str, bool],
                    parameters: dict[str, Any] | None = None) -> tuple[bytes, int | None]:
    """The response body, and its JSON header's length when binary data follows it (None: the
    body is all JSON). ``binary`` says, per output name, whether it travels as binary data."""
    header: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        header["id"] = request_id
    if parameters:
        header["parameters"] = parameters
    described, chunks = [], []
    for output in outputs:
        item: dict[str, Any] = {"name": output.name, "datatype": output.datatype, "shape": list(output.array.shape)}
        if binary.get(output.name):
            raw = to_binary(output.array, output.datatype)
            item["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            item["data"] = to_json(output.array, output.datatype)
        described.append(item)
    header["outputs"] = described
    head = orjson.dumps(header)
    if not chunks:
        return head, None
    return b"".join([head, *chunks]), len(head)


def to_binary(array: np.ndarray, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for value in array.reshape(-1):
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts.append(_LENGTH.pack(len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=DTYPES[datatype]).tobytes()


def to_json(array: np.ndarray, datatype: str) -> list[Any]:
    """Flat, row-major, as the protocol's responses are."""
    if datatype == "BYTES":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in array.reshape(-1)]
    return array.reshape(-1).tolist()  # type: ignore[no-any-return]
