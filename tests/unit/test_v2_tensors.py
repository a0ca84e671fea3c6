"""V2 tensors on the wire: every datatype through JSON and binary, BYTES as tritonclient
frames them, responses as tritonclient and KServe read them, and malformed requests refused
with a message that names the problem."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import numpy as np
import pytest

from medmaas.api.v2 import tensors
from medmaas.api.v2.service import decompressed
from medmaas.api.v2.tensors import OutputTensor, encode_response, parse_request
from medmaas.exceptions import PayloadTooLargeError, SchemaError

FIXED = [d for d in tensors.DTYPES if d != "BYTES"]


def _values(datatype: str) -> np.ndarray:
    dtype = tensors.DTYPES[datatype]
    if datatype == "BOOL":
        return np.array([[True, False, True], [False, False, True]])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.array([[info.min, 0, 1], [7, info.max - 1, info.max]], dtype=dtype)
    return np.array([[-1.5, 0.0, 2.25], [1e3, -0.125, 3.0]], dtype=dtype)


def _binary_request(inputs: list[tuple[str, str, np.ndarray, bytes]], **extra: Any) -> tuple[bytes, int]:
    header = json.dumps({"inputs": [{"name": n, "datatype": d, "shape": list(a.shape),
                                     "parameters": {"binary_data_size": len(raw)}} for n, d, a, raw in inputs],
                         **extra}).encode()
    return header + b"".join(raw for *_, raw in inputs), len(header)


@pytest.mark.parametrize("datatype", FIXED)
def test_every_fixed_size_datatype_reads_the_same_from_json_and_binary(datatype: str) -> None:
    values = _values(datatype)
    as_json = json.dumps({"inputs": [{"name": "x", "datatype": datatype, "shape": [2, 3],
                                      "data": values.tolist()}]}).encode()
    from_json = parse_request(as_json, None).inputs["x"].array
    body, length = _binary_request([("x", datatype, values, tensors.to_binary(values, datatype))])
    from_binary = parse_request(body, length).inputs["x"].array
    assert from_json.dtype == from_binary.dtype == tensors.DTYPES[datatype]
    np.testing.assert_array_equal(from_json, values)
    np.testing.assert_array_equal(from_binary, values)


def test_flat_and_nested_json_data_are_the_same_row_major_tensor() -> None:
    nested = parse_request(b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], '
                           b'"data": [[1, 2], [3, 4]]}]}', None)
    flat = parse_request(b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 2], '
                         b'"data": [1, 2, 3, 4]}]}', None)
    np.testing.assert_array_equal(nested.inputs["x"].array, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(flat.inputs["x"].array, nested.inputs["x"].array)


def test_bytes_tensors_read_and_write_tritonclients_framing() -> None:
    from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

    values = np.array([b"malignant", b"", "h\u00e9las".encode(), b"\x00\xff"], dtype=object).reshape(2, 2)
    framed = serialize_byte_tensor(values).item()
    body, length = _binary_request([("notes", "BYTES", values, framed)])
    parsed = parse_request(body, length).inputs["notes"].array
    assert parsed.shape == (2, 2) and parsed.tolist() == values.tolist()
    assert deserialize_bytes_tensor(tensors.to_binary(values, "BYTES")).tolist() == values.reshape(-1).tolist()
    in_json = parse_request(json.dumps({"inputs": [{"name": "t", "datatype": "BYTES", "shape": [2],
                                                    "data": ["a", "h\u00e9"]}]}).encode(), None)
    assert in_json.inputs["t"].array.tolist() == [b"a", "h\u00e9".encode()]


def test_several_binary_inputs_take_their_bytes_in_order_and_json_inputs_mix_in() -> None:
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([b"x", b"yz"], dtype=object)
    header = json.dumps({"id": "r7", "inputs": [
        {"name": "a", "datatype": "FP32", "shape": [2, 3], "parameters": {"binary_data_size": a.nbytes}},
        {"name": "j", "datatype": "INT64", "shape": [2], "data": [5, 6]},
        {"name": "b", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 11}},
    ], "outputs": [{"name": "label", "parameters": {"binary_data": False}}],
        "parameters": {"binary_data_output": True}}).encode()
    request = parse_request(header + a.tobytes() + tensors.to_binary(b, "BYTES"), len(header))
    assert request.id == "r7" and request.binary_output
    assert request.outputs == [tensors.RequestedOutput("label", False)]
    np.testing.assert_array_equal(request.inputs["a"].array, a)
    assert request.inputs["j"].array.tolist() == [5, 6]
    assert request.inputs["b"].array.tolist() == [b"x", b"yz"]


def test_nan_literals_and_nulls_in_float_data_are_nan() -> None:
    # Python's json.dumps (tritonclient) writes NaN; orjson (KServe's client) writes null.
    for data in (b"[1.0, NaN]", b"[1.0, null]"):
        request = parse_request(b'{"inputs": [{"name": "x", "datatype": "FP64", "shape": [2], "data": ' + data + b"}]}",
                                None)
        assert np.isnan(request.inputs["x"].array[1])


def _refused(body: bytes, length: int | None = None) -> str:
    with pytest.raises(SchemaError) as caught:
        parse_request(body, length)
    return str(caught.value)


def _one(datatype: str, shape: list[int], data: Any) -> bytes:
    return json.dumps({"inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}]}).encode()


@pytest.mark.parametrize(("body", "words"), [
    (b"", ["empty"]),
    (b"{not json", ["not valid JSON"]),
    (b"[1, 2]", ["JSON object"]),
    (b'{"inputs": []}', ["'inputs'", "non-empty"]),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], "extra": 1}', ["'extra'"]),
    (b'{"id": 7, "inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}', ["'id'", "string"]),
    (_one("FP8", [1], [1]), ["'x'", "unknown datatype 'FP8'"]),
    (_one("FP32", [-1, 2], [1, 2]), ["'x'", "shape"]),
    (_one("FP32", [2, 3], [1, 2, 3, 4, 5]), ["'x'", "5 elements", "[2, 3]", "needs 6"]),
    (_one("FP32", [2, 2], [[1, 2], [3]]), ["'x'", "rectangular"]),
    (_one("FP32", [2], ["1.5", "2"]), ["'x'", "text"]),
    (_one("INT64", [2], [True, False]), ["'x'", "true/false"]),
    (_one("INT64", [2], [1, None]), ["'x'", "null"]),
    (_one("INT32", [2], [1.5, 2]), ["'x'", "whole numbers"]),
    (_one("UINT8", [2], [1, 300]), ["'x'", "0..255", "300"]),
    (_one("BOOL", [2], [1, 0]), ["'x'", "true or false"]),
    (_one("BYTES", [2], ["a", 3]), ["'x'", "strings"]),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1]}]}', ["'x'", "no data"]),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}, '
     b'{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}', ["'x'", "twice"]),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1], '
     b'"parameters": {"shared_memory_region": "r"}}]}', ["'x'", "shared-memory"]),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], '
     b'"outputs": [{"name": "p", "parameters": {"classification": 2}}]}', ["'p'", "classification"]),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}], '
     b'"parameters": {"binary_data_output": "yes"}}', ["binary_data_output"]),
    (b'{"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], '
     b'"parameters": {"binary_data_size": 4}}]}', ["'x'", "Inference-Header-Content-Length"]),
])
def test_malformed_json_requests_are_refused_by_name(body: bytes, words: list[str]) -> None:
    message = _refused(body)
    for word in words:
        assert word in message, (word, message)


def test_binary_sizes_that_disagree_with_the_body_are_refused() -> None:
    values = np.ones((2, 3), dtype=np.float32)
    body, length = _binary_request([("x", "FP32", values, values.tobytes())])
    assert "whole body is" in _refused(body, len(body) + 1)
    # The header says the JSON is shorter than it is: the JSON is cut.
    assert "not valid JSON" in _refused(body, length - 3)
    # Bytes left over after the declared sizes.
    message = _refused(body + b"\x00" * 4, length)
    assert "4" in message and "binary_data_size" in message and "disagree" in message
    # A size larger than what follows.
    big, big_length = _binary_request([("x", "FP32", values, values.tobytes() + b"\x00" * 4)])
    message = _refused(big[:-4], big_length)
    assert "'x'" in message and "28" in message and "only 24 bytes" in message
    # A size that is not the tensor's: [2, 3] FP32 is 24 bytes.
    short = np.ones(5, dtype=np.float32).tobytes()
    wrong, wrong_length = _binary_request([("x", "FP32", values, short)])
    message = _refused(wrong, wrong_length)
    assert "'x'" in message and "needs 24 bytes" in message and "20" in message
    both = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1],
                                   "parameters": {"binary_data_size": 4}}]}).encode()
    assert "both" in _refused(both + b"\x00" * 4, len(both))


def test_bytes_elements_that_overrun_their_tensor_are_refused() -> None:
    framed = b"\x05\x00\x00\x00abc"  # says 5 bytes, has 3
    body, length = _binary_request([("t", "BYTES", np.empty(1, dtype=object), framed)])
    assert "element 0 says it is 5 bytes long" in _refused(body, length)
    two = tensors.to_binary(np.array([b"a", b"b"], dtype=object), "BYTES")
    body, length = _binary_request([("t", "BYTES", np.empty(3, dtype=object), two)])
    assert "holds 2 elements" in _refused(body, length)
    body, length = _binary_request([("t", "BYTES", np.empty(1, dtype=object), b"\x01\x00")])
    assert "4-byte length" in _refused(body, length)


def test_the_header_length_header_must_be_a_number() -> None:
    assert tensors.header_length(None) is None
    assert tensors.header_length(b"120") == 120
    with pytest.raises(SchemaError, match="Inference-Header-Content-Length"):
        tensors.header_length("12a")


def _outputs() -> list[OutputTensor]:
    labels = np.array(["benign", "malignant", "benign"], dtype=object)
    return [OutputTensor("probabilities", "FP32", np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], np.float32)),
            OutputTensor("label", "BYTES", labels), OutputTensor("sample", "INT64", np.array([3, 9, 27]))]


@pytest.mark.parametrize("binary", [True, False])
def test_responses_read_back_with_tritonclient(binary: bool) -> None:
    from tritonclient.http import InferResult

    body, length = encode_response(model_name="m", model_version="2", request_id="abc", outputs=_outputs(),
                                   binary={"probabilities": binary, "label": binary, "sample": False},
                                   parameters={"warnings": "[]"})
    assert (length is not None) == binary
    result = InferResult.from_response_body(body, header_length=length)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), _outputs()[0].array)
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label").tolist()]
    assert labels == ["benign", "malignant", "benign"]
    assert result.as_numpy("sample").tolist() == [3, 9, 27]
    response = result.get_response()
    assert (response["id"], response["model_name"], response["model_version"]) == ("abc", "m", "2")


def test_responses_read_back_with_kserve() -> None:
    pytest.importorskip("kserve")
    from kserve import InferResponse

    body, length = encode_response(model_name="m", model_version="1", request_id=None, outputs=_outputs(),
                                   binary={"probabilities": True, "label": True, "sample": True})
    assert length is not None
    response = InferResponse.from_bytes(body, length)
    by_name = {o.name: o.as_numpy() for o in response.outputs}
    np.testing.assert_array_equal(by_name["probabilities"], _outputs()[0].array)
    assert [v.decode() if isinstance(v, bytes) else v for v in by_name["label"].tolist()] == \
        ["benign", "malignant", "benign"]


def test_compressed_bodies_are_inflated_within_the_limit() -> None:
    body = b'{"inputs": []}' * 10
    assert decompressed(gzip.compress(body), "gzip", 1000) == body
    assert decompressed(zlib.compress(body), "deflate", 1000) == body
    assert decompressed(body, None, 1000) == body
    with pytest.raises(PayloadTooLargeError, match="inflates past"):
        decompressed(gzip.compress(b"0" * 5000), "gzip", 1000)
    with pytest.raises(SchemaError, match="not valid gzip"):
        decompressed(b"plain", "gzip", 1000)
    with pytest.raises(SchemaError, match="truncated"):
        decompressed(gzip.compress(body)[:-8], "gzip", 1000)
    with pytest.raises(SchemaError, match="'br' is not supported"):
        decompressed(body, "br", 1000)
