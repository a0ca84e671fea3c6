"""The Open Inference Protocol (KServe / Triton "V2" REST), so their clients work unchanged.

Health and server metadata need no key (like /livez and /readyz); model metadata and
readiness need "models:read", inference "predict". ``POST .../infer`` is answered by the data
plane (``api.dataplane``) before FastAPI sees it; the routes here document it in OpenAPI and
serve it when the FastAPI app is mounted on its own. Errors are ``{"error": message}``
(``api.errors.ERROR_FORMATS``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from medmaas.api.deps import State, allowed
from medmaas.api.v2 import service
from medmaas.api.v2.schemas import (
    INFER_REQUEST,
    METADATA_LINKS,
    InferResponsePublic,
    LivePublic,
    ModelMetadataPublic,
    ModelReadyPublic,
    ReadyPublic,
    ServerMetadataPublic,
    V2ErrorPublic,
    errors,
)
from medmaas.api.v2.tensors import HEADER, header_length
from medmaas.security.keys import Principal

router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"])
_METADATA_ERRORS = errors(401, 403, 404, 429, 501)


@router.get("", response_model=ServerMetadataPublic, summary="server metadata: name, version, protocol extensions")
def server_metadata() -> dict[str, Any]:
    return service.server_metadata()


@router.get("/health/live", response_model=LivePublic, summary="the process is up")
def live() -> dict[str, bool]:
    return {"live": True}


@router.get("/health/ready", response_model=ReadyPublic, summary="the registry is open and requests can be served",
            responses={503: {"model": V2ErrorPublic, "description": "still starting"}})
def ready(state: State) -> JSONResponse:
    if not state.ready:
        return JSONResponse({"error": "the server is starting"}, status_code=503)
    return JSONResponse({"ready": True})


@router.get("/models/{name}", response_model=ModelMetadataPublic, response_model_exclude_unset=True,
            responses={200: {"links": METADATA_LINKS}, **_METADATA_ERRORS},
            summary="model metadata: versions, platform, input and output tensors")
async def model_metadata(name: str, state: State, principal: Principal = allowed("models:read")) -> dict[str, Any]:
    return await service.model_metadata(state, principal, name, None)


@router.get("/models/{name}/versions/{version}", response_model=ModelMetadataPublic, response_model_exclude_unset=True,
            responses=_METADATA_ERRORS,
            summary="model metadata of a version, stage or alias")
async def version_metadata(name: str, version: str, state: State,
                           principal: Principal = allowed("models:read")) -> dict[str, Any]:
    return await service.model_metadata(state, principal, name, version)


@router.get("/models/{name}/ready", response_model=ModelReadyPublic, responses=_METADATA_ERRORS,
            summary="200 when the model resolves and loads; 404 when unknown")
async def model_ready(name: str, state: State, principal: Principal = allowed("models:read")) -> dict[str, Any]:
    return await service.model_ready(state, principal, name, None)


@router.get("/models/{name}/versions/{version}/ready", response_model=ModelReadyPublic, responses=_METADATA_ERRORS,
            summary="readiness of a version, stage or alias")
async def version_ready(name: str, version: str, state: State,
                        principal: Principal = allowed("models:read")) -> dict[str, Any]:
    return await service.model_ready(state, principal, name, version)


_INFER_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": INFER_REQUEST},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary", "description":
                                            f"the JSON request, then raw tensors; the {HEADER} header gives the "
                                            "JSON's length (Triton's binary tensor extension)"}},
}}, "parameters": [
    {"name": HEADER, "in": "header", "required": False, "schema": {"type": "integer", "minimum": 0},
     "description": "with binary tensors: the length of the JSON request that comes first in the body"},
    {"name": "Content-Encoding", "in": "header", "required": False, "schema": {"enum": ["gzip", "deflate", "identity"]},
     "description": "the body may be compressed, as tritonclient does"},
]}
_INFER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": InferResponsePublic, "description": "the outputs; with binary outputs, the JSON header and then "
          f"the raw tensors, the {HEADER} header giving the JSON's length",
          "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
    **errors(400, 401, 403, 404, 413, 429, 501, 503),
}


@router.post("/models/{name}/infer", summary="infer: tensors in, tensors out (JSON or binary)",
             openapi_extra=_INFER_BODY, responses=_INFER_RESPONSES)
async def infer(name: str, request: Request, state: State, principal: Principal = allowed("predict")) -> Response:
    return await _infer(request, state, principal, name, None)


@router.post("/models/{name}/versions/{version}/infer", summary="infer with a version, stage or alias",
             openapi_extra=_INFER_BODY, responses=_INFER_RESPONSES)
async def infer_version(name: str, version: str, request: Request, state: State,
                        principal: Principal = allowed("predict")) -> Response:
    return await _infer(request, state, principal, name, version)


async def _infer(request: Request, state: Any, principal: Principal, name: str, version: str | None) -> Response:
    body, length = await service.infer(
        state, principal, name, version, await request.body(),
        header_length=header_length(request.headers.get(HEADER)),
        content_encoding=request.headers.get("content-encoding"), path=request.url.path,
        request_id=request.state.request_id)
    if length is None:
        return Response(body, media_type="application/json")
    return Response(body, media_type="application/octet-stream", headers={HEADER: str(length)})
