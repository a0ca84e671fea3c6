"""Clients written elsewhere, unchanged, against a live server on loopback: Triton's
``tritonclient.http`` and KServe's ``InferenceRESTClient``. The API key travels in the
headers each client lets its caller add."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.conftest import breast_cancer_frame
from tests.integration.test_serving import live_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    import shutil

    home = tmp_path_factory.mktemp("v2-clients") / "home"
    shutil.copytree(trained_home, home)
    with live_server(home) as (base, keys, _):
        yield base, keys


def _frame(n: int) -> Any:
    return breast_cancer_frame().drop(columns=["diagnosis"]).head(n)


def _v1(base: str, key: str, n: int) -> list[dict[str, Any]]:
    response = httpx.post(f"{base}/v1/models/wdbc/predict", headers={"Authorization": f"Bearer {key}"},
                          json={"rows": _frame(n).to_dict(orient="records")})
    response.raise_for_status()
    return response.json()["predictions"]  # type: ignore[no-any-return]


def _labels(values: np.ndarray) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else v for v in values.tolist()]


def test_tritonclient_health_and_metadata(server: tuple[str, dict[str, str]]) -> None:
    import tritonclient.http as triton

    base, keys = server
    client = triton.InferenceServerClient(base.removeprefix("http://"))
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.get_server_metadata()["name"] == "medmaas"
        key = {"Authorization": f"Bearer {keys['auditor']}"}
        assert client.is_model_ready("wdbc", headers=dict(key))
        assert client.is_model_ready("wdbc", model_version="1", headers=dict(key))
        assert not client.is_model_ready("no-such-model", headers=dict(key))
        assert not client.is_model_ready("wdbc")  # no key: 401, not ready for this caller
        metadata = client.get_model_metadata("wdbc", headers=dict(key))
        assert metadata["inputs"][0]["shape"] == [-1, 30] and metadata["versions"] == ["1"]
        with pytest.raises(triton.InferenceServerException) as caught:
            client.get_model_metadata("no-such-model", headers=dict(key))
        assert caught.value.status() == "404" and "no-such-model" in caught.value.message()
    finally:
        client.close()


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False, None])
def test_tritonclient_infer_gives_the_v1_answers(server: tuple[str, dict[str, str]], binary_in: bool,
                                                 binary_out: bool | None) -> None:
    import tritonclient.http as triton

    base, keys = server
    x = _frame(8).to_numpy(np.float32)
    tensor = triton.InferInput("input", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary_in)
    # None: no outputs named, so tritonclient asks for every output as binary data.
    outputs = None if binary_out is None else [triton.InferRequestedOutput("probabilities", binary_data=binary_out),
                                                triton.InferRequestedOutput("label", binary_data=binary_out)]
    client = triton.InferenceServerClient(base.removeprefix("http://"))
    try:
        # tritonclient writes its own headers into the dict it is given: a fresh one per call.
        result = client.infer("wdbc", [tensor], outputs=outputs, request_id="req-9",
                              headers={"Authorization": f"Bearer {keys['clinician']}"})
    finally:
        client.close()
    v1 = _v1(base, keys["clinician"], 8)
    assert result.get_response()["id"] == "req-9"
    assert _labels(result.as_numpy("label")) == [p["prediction"] for p in v1]
    np.testing.assert_allclose(result.as_numpy("probabilities")[:, 1], [p["probability"] for p in v1], atol=2e-6)


def test_tritonclient_sees_errors_and_compressed_requests(server: tuple[str, dict[str, str]]) -> None:
    import tritonclient.http as triton

    base, keys = server
    x = _frame(2).to_numpy(np.float32)
    client = triton.InferenceServerClient(base.removeprefix("http://"))
    try:
        wrong = triton.InferInput("input", [2, 29], "FP32").set_data_from_numpy(x[:, :29])
        with pytest.raises(triton.InferenceServerException) as caught:
            client.infer("wdbc", [wrong], headers={"Authorization": f"Bearer {keys['clinician']}"})
        assert caught.value.status() == "400" and "[-1, 30]" in caught.value.message()
        right = triton.InferInput("input", [2, 30], "FP32").set_data_from_numpy(x)
        with pytest.raises(triton.InferenceServerException) as caught:
            client.infer("wdbc", [right], headers={"Authorization": f"Bearer {keys['auditor']}"})
        assert caught.value.status() == "403"
        zipped = client.infer("wdbc", [right], headers={"Authorization": f"Bearer {keys['clinician']}"},
                              request_compression_algorithm="gzip")
        assert _labels(zipped.as_numpy("label")) == [p["prediction"] for p in _v1(base, keys["clinician"], 2)]
    finally:
        client.close()


def test_kserve_rest_client(server: tuple[str, dict[str, str]]) -> None:
    pytest.importorskip("kserve")
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    base, keys = server
    x = _frame(5).to_numpy(np.float32)
    v1 = _v1(base, keys["clinician"], 5)
    headers = {"Authorization": f"Bearer {keys['clinician']}"}

    async def calls() -> list[Any]:
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
        try:
            answers: list[Any] = [await client.is_server_live(base), await client.is_server_ready(base),
                                  await client.is_model_ready(base, "wdbc", headers=headers),
                                  await client.is_model_ready(base, "no-such-model", headers=headers)]
            for binary in (True, False):
                tensor = InferInput("input", list(x.shape), "FP32")
                tensor.set_data_from_numpy(x, binary_data=binary)
                request = InferRequest(model_name="wdbc", infer_inputs=[tensor], request_id="k-1",
                                       parameters={"binary_data_output": binary})
                # KServe's client, like tritonclient, writes into the headers it is given.
                received: dict[str, str] = {}
                answers.append((await client.infer(base, request, model_name="wdbc", headers=dict(headers),
                                                   response_headers=received), received))
            return answers
        finally:
            await client.close()

    live, ready, model_ready, unknown_ready, *responses = asyncio.run(calls())
    assert (live, ready, model_ready, unknown_ready) == (True, True, True, False)
    for (response, received), binary in zip(responses, (True, False), strict=True):
        assert response.model_name == "wdbc" and response.id == "k-1"
        assert ("inference-header-content-length" in received) == binary
        outputs = {o.name: o.as_numpy() for o in response.outputs}
        assert _labels(outputs["label"]) == [p["prediction"] for p in v1]
        np.testing.assert_allclose(outputs["probabilities"][:, 1], [p["probability"] for p in v1], atol=2e-6)
