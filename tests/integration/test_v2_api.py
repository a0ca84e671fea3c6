"""The Open Inference Protocol over ASGI: metadata, readiness, inference with JSON and binary
tensors giving the /v1 answers, auth, audit, and bad requests answered {"error": ...} with a
4xx that names the problem."""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any

import numpy as np
import pytest
from tests.conftest import breast_cancer_frame

pytestmark = pytest.mark.integration

HEADER = "Inference-Header-Content-Length"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _frame(n: int) -> Any:
    return breast_cancer_frame().drop(columns=["diagnosis"]).head(n)


def _matrix(n: int) -> np.ndarray:
    return _frame(n).to_numpy(np.float32)


def _json_request(x: np.ndarray, **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                        "data": x.reshape(-1).tolist()}], **extra}


def _binary_body(x: np.ndarray, **extra: Any) -> tuple[bytes, dict[str, str]]:
    header = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}], **extra}).encode()
    return header + x.tobytes(), {HEADER: str(len(header))}


def _outputs(response: Any) -> dict[str, Any]:
    """Output name -> numpy array, from a JSON or a binary response."""
    from tritonclient.http import InferResult

    length = response.headers.get(HEADER)
    result = InferResult.from_response_body(response.content, header_length=int(length) if length else None)
    return {o["name"]: result.as_numpy(o["name"]) for o in result.get_response()["outputs"]}


def _header(response: Any) -> dict[str, Any]:
    """The JSON part of a response, whether binary outputs follow it or not."""
    length = response.headers.get(HEADER)
    return json.loads(response.content[:int(length)] if length else response.content)  # type: ignore[no-any-return]


def _labels(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in values.tolist()]


def _v1(client: Any, key: str, rows: list[dict[str, Any]], model: str = "wdbc") -> list[dict[str, Any]]:
    response = client.post(f"/v1/models/{model}/predict", headers=_auth(key), json={"rows": rows})
    assert response.status_code == 200, response.text
    return response.json()["predictions"]  # type: ignore[no-any-return]


def _error(response: Any, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    for word in words:
        assert word in body["error"], (word, body["error"])
    return body["error"]  # type: ignore[no-any-return]


def test_server_metadata_and_health_need_no_key(api: Any) -> None:
    client, _ = api
    metadata = client.get("/v2").json()
    assert metadata["name"] == "medmaas" and "binary_tensor_data" in metadata["extensions"]
    assert metadata["version"]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}


def test_model_metadata_names_the_tensors_each_model_takes(api: Any) -> None:
    client, keys = api
    wdbc = client.get("/v2/models/wdbc", headers=_auth(keys["auditor"])).json()
    features = list(_frame(1).columns)
    assert (wdbc["name"], wdbc["versions"], wdbc["platform"]) == ("wdbc", ["1"], "onnxruntime_onnx")
    (matrix,) = wdbc["inputs"]
    assert (matrix["name"], matrix["datatype"], matrix["shape"]) == ("input", "FP32", [-1, 30])
    assert matrix["parameters"]["columns"] == features
    outputs = {o["name"]: o for o in wdbc["outputs"]}
    assert outputs["probabilities"]["shape"] == [-1, 2] and outputs["label"]["datatype"] == "BYTES"
    assert outputs["probabilities"]["parameters"]["classes"] == ["benign", "malignant"]
    assert client.get("/v2/models/wdbc/versions/production", headers=_auth(keys["auditor"])).json() == wdbc
    mixed = client.get("/v2/models/mixed/versions/1", headers=_auth(keys["auditor"])).json()
    assert [(t["name"], t["datatype"], t["shape"]) for t in mixed["inputs"]] == [
        ("age", "FP32", [-1]), ("lactate", "FP32", [-1]), ("sex", "BYTES", [-1]), ("ward", "BYTES", [-1])]
    blobs = client.get("/v2/models/blobs", headers=_auth(keys["auditor"])).json()
    assert [(t["name"], t["datatype"], t["shape"]) for t in blobs["inputs"]] == [("image", "FP32", [-1, 1, 16, 16])]


def test_model_readiness_and_unknown_models(api: Any) -> None:
    client, keys = api
    headers = _auth(keys["auditor"])
    assert client.get("/v2/models/wdbc/ready", headers=headers).status_code == 200
    assert client.get("/v2/models/wdbc/versions/1/ready", headers=headers).status_code == 200
    _error(client.get("/v2/models/nope/ready", headers=headers), 404, "'nope'")
    _error(client.get("/v2/models/wdbc/versions/9/ready", headers=headers), 404, "9")
    _error(client.get("/v2/models/nope", headers=headers), 404, "'nope'")
    _error(client.post("/v2/models/nope/infer", headers=_auth(keys["clinician"]), json=_json_request(_matrix(1))),
           404, "'nope'")
    _error(client.get("/v2/no/such/route"), 404)


def test_keys_and_roles_apply(api: Any) -> None:
    client, keys = api
    _error(client.get("/v2/models/wdbc"), 401, "credentials")
    _error(client.get("/v2/models/wdbc/ready"), 401)
    _error(client.post("/v2/models/wdbc/infer", json=_json_request(_matrix(1))), 401, "credentials")
    _error(client.post("/v2/models/wdbc/infer", headers={"X-API-Key": keys["clinician"][:-3] + "AAA"},
                       json=_json_request(_matrix(1))), 401)
    _error(client.post("/v2/models/wdbc/infer", headers=_auth(keys["auditor"]), json=_json_request(_matrix(1))),
           403, "predict")
    assert client.post("/v2/models/wdbc/infer", headers={"X-API-Key": keys["clinician"]},
                       json=_json_request(_matrix(1))).status_code == 200
    denied = client.get("/v1/audit?n=20&action=auth.denied", headers=_auth(keys["auditor"])).json()
    assert any(e["resource"] == "/v2/models/{name}/infer" for e in denied)  # the route, not the path


def test_json_and_binary_inference_give_the_v1_answers_and_are_audited(api: Any) -> None:
    client, keys = api
    x = _matrix(16)
    v1 = _v1(client, keys["clinician"], _frame(16).to_dict(orient="records"))
    as_json = client.post("/v2/models/wdbc/infer", headers=_auth(keys["clinician"]), json=_json_request(x, id="r-1"))
    body, headers = _binary_body(x, parameters={"binary_data_output": True})
    as_binary = client.post("/v2/models/wdbc/infer", headers={**_auth(keys["clinician"]), **headers}, content=body)
    assert as_json.headers["content-type"] == "application/json" and as_json.json()["id"] == "r-1"
    assert as_binary.headers["content-type"] == "application/octet-stream"
    assert as_json.json()["model_name"] == "wdbc" and as_json.json()["model_version"] == "1"
    for response in (as_json, as_binary):
        outputs = _outputs(response)
        assert outputs["probabilities"].shape == (16, 2) and outputs["probabilities"].dtype == np.float32
        assert _labels(outputs["label"]) == [p["prediction"] for p in v1]
        np.testing.assert_allclose(outputs["probabilities"][:, 1], [p["probability"] for p in v1], atol=2e-6)
    events = client.get("/v1/audit?n=10&action=model.predict", headers=_auth(keys["auditor"])).json()
    hashes = {e["input_sha256"]: e for e in events}
    for sent, response in ((as_json.request.content, as_json), (body, as_binary)):
        event = hashes[hashlib.sha256(sent).hexdigest()]
        assert (event["resource"], event["version"], event["detail"]) == (
            "wdbc", 1, {"rows": 16, "request_id": response.headers["x-request-id"]})
    assert client.get("/v1/audit/verify", headers=_auth(keys["auditor"])).json()["ok"]


def test_requested_outputs_choose_names_and_encodings(api: Any) -> None:
    client, keys = api
    body, headers = _binary_body(_matrix(3), outputs=[{"name": "label", "parameters": {"binary_data": True}}])
    response = client.post("/v2/models/wdbc/infer", headers={**_auth(keys["clinician"]), **headers}, content=body)
    header = _header(response)
    assert [o["name"] for o in header["outputs"]] == ["label"]
    assert "binary_data_size" in header["outputs"][0]["parameters"]
    mixed = client.post("/v2/models/wdbc/infer", headers=_auth(keys["clinician"]), json=_json_request(
        _matrix(3), outputs=[{"name": "probabilities"}, {"name": "label", "parameters": {"binary_data": True}}]))
    assert mixed.headers["content-type"] == "application/octet-stream"
    assert _outputs(mixed)["probabilities"].shape == (3, 2)
    _error(client.post("/v2/models/wdbc/infer", headers=_auth(keys["clinician"]),
                       json=_json_request(_matrix(1), outputs=[{"name": "prediction"}])),
           400, "'prediction'", "'probabilities'", "'label'")


def test_nan_is_a_missing_value_imputed_and_warned_like_json_null(api: Any) -> None:
    client, keys = api
    rows = _frame(3).to_dict(orient="records")
    rows[1]["mean area"] = None
    v1 = _v1(client, keys["clinician"], rows)
    x = _matrix(3)
    x[1, list(_frame(1).columns).index("mean area")] = np.nan
    body, headers = _binary_body(x)
    response = client.post("/v2/models/wdbc/infer", headers={**_auth(keys["clinician"]), **headers}, content=body)
    assert response.status_code == 200, response.text
    assert json.loads(_header(response)["parameters"]["warnings"]) == [p["warnings"] for p in v1]
    np.testing.assert_allclose(_outputs(response)["probabilities"][:, 1], [p["probability"] for p in v1], atol=2e-6)
    x[0, 0] = np.inf
    body, headers = _binary_body(x)
    _error(client.post("/v2/models/wdbc/infer", headers={**_auth(keys["clinician"]), **headers}, content=body),
           400, "row 0", "'mean radius'", "finite")


def test_float32_values_at_the_training_bounds_are_inside_them(api: Any) -> None:
    # float32(28.11) is 28.110000610...: compared with the float64 bound it would be "outside".
    client, keys = api
    spec = client.get("/v1/models/wdbc/versions/1", headers=_auth(keys["auditor"])).json()["spec"]
    row = _frame(1).to_dict(orient="records")[0]
    row |= {f["name"]: f["maximum"] for f in spec["inputs"] if f["name"].startswith("mean")}
    row |= {f["name"]: f["minimum"] for f in spec["inputs"] if f["name"].startswith("worst")}
    assert any(float(np.float32(v)) != v for v in row.values())
    v1 = _v1(client, keys["clinician"], [row])
    response = client.post("/v2/models/wdbc/infer", headers=_auth(keys["clinician"]),
                           json=_json_request(np.array([list(row.values())], dtype=np.float32)))
    assert v1[0]["warnings"] == []
    assert "parameters" not in response.json(), response.json()


def test_one_tensor_per_feature_and_categorical_features(api: Any) -> None:
    client, keys = api
    frame = _frame(4)
    per_feature = {"inputs": [{"name": c, "shape": [4, 1], "datatype": "FP64", "data": frame[c].tolist()}
                              for c in frame.columns]}
    response = client.post("/v2/models/wdbc/infer", headers=_auth(keys["clinician"]), json=per_feature)
    v1 = _v1(client, keys["clinician"], frame.to_dict(orient="records"))
    assert _labels(_outputs(response)["label"]) == [p["prediction"] for p in v1]
    rows = [{"age": 71.0, "lactate": 4.2, "sex": "F", "ward": "icu"},
            {"age": 45.0, "lactate": None, "sex": "M", "ward": None},
            {"age": 60.0, "lactate": 1.1, "sex": "M", "ward": "burns"}]
    v1_mixed = _v1(client, keys["clinician"], rows, model="mixed")
    inputs = [{"name": "age", "shape": [3], "datatype": "FP32", "data": [71.0, 45.0, 60.0]},
              {"name": "lactate", "shape": [3], "datatype": "FP32", "data": [4.2, None, 1.1]},
              {"name": "sex", "shape": [3], "datatype": "BYTES", "data": ["F", "M", "M"]},
              {"name": "ward", "shape": [3], "datatype": "BYTES", "data": ["icu", "", "burns"]}]
    mixed = client.post("/v2/models/mixed/infer", headers=_auth(keys["clinician"]), json={"inputs": inputs})
    assert mixed.status_code == 200, mixed.text
    assert _labels(_outputs(mixed)["label"]) == [p["prediction"] for p in v1_mixed]
    assert json.loads(mixed.json()["parameters"]["warnings"]) == [p["warnings"] for p in v1_mixed]
    _error(client.post("/v2/models/mixed/infer", headers=_auth(keys["clinician"]), json={"inputs": inputs[:3]}),
           400, "missing input(s) 'ward'")
    wrong = [*inputs[:2], {**inputs[2], "datatype": "FP32", "data": [0, 1, 1]}, inputs[3]]
    _error(client.post("/v2/models/mixed/infer", headers=_auth(keys["clinician"]), json={"inputs": wrong}),
           400, "'sex'", "BYTES", "FP32")


def test_images_as_fp32_or_uint8_give_the_v1_answer(api: Any) -> None:
    client, keys = api
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 1, 16, 16)).astype(np.uint8)
    v1 = _v1(client, keys["clinician"], [{"image": image.tolist()} for image in images], model="blobs")
    for datatype, array in (("UINT8", images), ("FP32", images.astype(np.float32))):
        response = client.post("/v2/models/blobs/infer", headers=_auth(keys["clinician"]), json={"inputs": [
            {"name": "image", "shape": list(array.shape), "datatype": datatype, "data": array.reshape(-1).tolist()}]})
        outputs = _outputs(response)
        assert _labels(outputs["label"]) == [p["prediction"] for p in v1]
        np.testing.assert_allclose(outputs["probabilities"][:, 1], [p["probability"] for p in v1], atol=2e-6)
    bright = {"inputs": [{"name": "image", "shape": [1, 1, 16, 16], "datatype": "FP32", "data": [300.0] * 256}]}
    _error(client.post("/v2/models/blobs/infer", headers=_auth(keys["clinician"]), json=bright), 400, "0..255")
    colour = {"inputs": [{"name": "image", "shape": [1, 3, 16, 16], "datatype": "UINT8", "data": [0] * 768}]}
    _error(client.post("/v2/models/blobs/infer", headers=_auth(keys["clinician"]), json=colour), 400, "1-channel")


@pytest.mark.parametrize(("request_body", "words"), [
    ({"inputs": [{"name": "input", "shape": [1, 29], "datatype": "FP32", "data": [1.0] * 29}]},
     ["'input'", "[-1, 30]", "[1, 29]"]),
    ({"inputs": [{"name": "input", "shape": [1, 30], "datatype": "INT64", "data": [1] * 30}]},
     ["'input'", "FP32", "INT64"]),
    ({"inputs": [{"name": "input", "shape": [2, 30], "datatype": "FP32", "data": [1.0] * 30}]},
     ["'input'", "30 elements", "needs 60"]),
    ({"inputs": [{"name": "image", "shape": [1, 30], "datatype": "FP32", "data": [1.0] * 30}]},
     ["unknown input(s) 'image'", "'input'"]),
    ({"inputs": [{"name": "input", "shape": [1, 30], "datatype": "FP32", "data": [1.0] * 30}],
      "parameters": {"deidentify": False}}, ["'deidentify'", "binary_data_output"]),
])
def test_requests_that_do_not_fit_the_model_are_400_naming_the_input(api: Any, request_body: dict[str, Any],
                                                                       words: list[str]) -> None:
    client, keys = api
    _error(client.post("/v2/models/wdbc/infer", headers=_auth(keys["clinician"]), json=request_body), 400, *words)


def test_binary_sizes_that_disagree_with_the_body_are_400(api: Any) -> None:
    client, keys = api
    body, headers = _binary_body(_matrix(2))
    auth = _auth(keys["clinician"])
    length = int(headers[HEADER])
    _error(client.post("/v2/models/wdbc/infer", headers={**auth, HEADER: str(len(body) + 10)}, content=body),
           400, HEADER, "whole body")
    _error(client.post("/v2/models/wdbc/infer", headers={**auth, HEADER: str(length - 5)}, content=body),
           400, "not valid JSON", HEADER)
    _error(client.post("/v2/models/wdbc/infer", headers={**auth, **headers}, content=body + b"\x00" * 8),
           400, "binary_data_size", "disagree")
    _error(client.post("/v2/models/wdbc/infer", headers={**auth, **headers}, content=body[:-8]),
           400, "'input'", "binary_data_size 240", "only 232 bytes")
    _error(client.post("/v2/models/wdbc/infer", headers={**auth, HEADER: "twelve"}, content=body), 400, HEADER)
    _error(client.post("/v2/models/wdbc/infer", headers=auth, content=body), 400, "not valid JSON")


def test_versions_compression_and_size_limits(api: Any) -> None:
    client, keys = api
    auth = _auth(keys["clinician"])
    request = json.dumps(_json_request(_matrix(2))).encode()
    for path in ("/v2/models/wdbc/versions/1/infer", "/v2/models/wdbc/versions/production/infer"):
        assert client.post(path, headers=auth, content=request).json()["model_version"] == "1"
    _error(client.post("/v2/models/wdbc/versions/7/infer", headers=auth, content=request), 404, "7")
    zipped = client.post("/v2/models/wdbc/infer", headers={**auth, "Content-Encoding": "gzip"},
                         content=gzip.compress(request))
    assert zipped.status_code == 200 and zipped.json()["outputs"][1]["data"] == \
        client.post("/v2/models/wdbc/infer", headers=auth, content=request).json()["outputs"][1]["data"]
    huge = np.zeros((9000, 30), dtype=np.float32)  # 1.08 MB of binary data, over the test server's 1 MiB
    body, headers = _binary_body(huge)
    _error(client.post("/v2/models/wdbc/infer", headers={**auth, **headers}, content=body), 413, "limit")
    many, headers = _binary_body(np.zeros((600, 30), dtype=np.float32))
    _error(client.post("/v2/models/wdbc/infer", headers={**auth, **headers}, content=many), 413, "600 rows")


def test_the_fastapi_routes_answer_like_the_data_plane(api: Any) -> None:
    from fastapi.testclient import TestClient

    client, keys = api
    body, headers = _binary_body(_matrix(4), parameters={"binary_data_output": True})
    headers = {**_auth(keys["clinician"]), **headers}
    fast = client.post("/v2/models/wdbc/infer", headers=headers, content=body)
    with TestClient(client.app.control) as control:  # FastAPI behind its middleware only
        slow = control.post("/v2/models/wdbc/infer", headers=headers, content=body)
        bad = control.post("/v2/models/wdbc/versions/1/infer", headers=headers, content=body[:-4])
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content and fast.headers[HEADER] == slow.headers[HEADER]
    assert slow.headers["content-type"] == "application/octet-stream"
    _error(bad, 400, "binary_data_size")
