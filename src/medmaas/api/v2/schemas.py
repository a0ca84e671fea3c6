"""The Open Inference Protocol's bodies as the OpenAPI document describes them: what the V2
routes answer, and the JSON inference request (``tensors.parse_request`` is what checks it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from medmaas.api.schemas import V2ErrorPublic, error_responses
from medmaas.api.v2.tensors import DTYPES


class ServerMetadataPublic(BaseModel):
    name: str
    version: str
    extensions: list[str]


class LivePublic(BaseModel):
    live: bool


class ReadyPublic(BaseModel):
    ready: bool


class TensorMetadataPublic(BaseModel):
    name: str
    datatype: str
    shape: list[int] = Field(description="-1: a dimension of any size")
    parameters: dict[str, Any] | None = None


class ModelMetadataPublic(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadataPublic]
    outputs: list[TensorMetadataPublic]
    parameters: dict[str, Any] = Field(description="the version served, the model's kind and task")


class ModelReadyPublic(BaseModel):
    name: str
    ready: bool


class OutputTensorPublic(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[Any] | None = Field(default=None, description="flat, row-major; absent when sent as binary data")
    parameters: dict[str, Any] | None = Field(default=None, description="binary_data_size when sent as binary data")


class InferResponsePublic(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    parameters: dict[str, Any] | None = Field(default=None, description="warnings: a JSON string, one list per row")
    outputs: list[OutputTensorPublic]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a V2 route. Invalid input is a 400 in this protocol (``api.errors``), so
    FastAPI's own 422 never comes; "4XX" stands in for it and says any other client error has
    the same shape."""
    return {**error_responses(*codes, model=V2ErrorPublic),
            "4XX": {"model": V2ErrorPublic, "description": "any other client error"}}


def link(method: str, path: str, description: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link from a response to the operation at ``method path``, its parameters
    taken from the response (``$response.body#/...``) or the request.

    >>> link("get", "/v2/models/{name}", "d", name="$request.path.name")["operationRef"]
    '#/paths/~1v2~1models~1{name}/get'
    """
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "description": description, "parameters": parameters}


#: From a model's metadata to the operations on the version it names, which stays the same
#: while the stages move (what a client that pins a version does).
METADATA_LINKS = {
    "InferThisVersion": link("post", "/v2/models/{name}/versions/{version}/infer", "infer with the version described",
                             name="$response.body#/name", version="$response.body#/parameters/version"),
    "ThisVersionReady": link("get", "/v2/models/{name}/versions/{version}/ready", "readiness of the version described",
                             name="$response.body#/name", version="$response.body#/parameters/version"),
}


_PARAMETERS = {"type": ["object", "null"], "additionalProperties": True}
#: The JSON inference request. Unknown fields are refused, except the model's name and version,
#: which KServe's client adds and which are read past (the URL names the model).
INFER_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": ["string", "null"], "description": "echoed in the response"},
        "parameters": _PARAMETERS,
        "inputs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["name", "shape", "datatype"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "datatype": {"enum": list(DTYPES)},
                "parameters": _PARAMETERS,
                "data": {"type": "array", "description": "flat or nested, row-major; or binary data after the "
                                                         "JSON (parameters.binary_data_size)"},
            }}},
        "outputs": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string"}, "parameters": _PARAMETERS}}},
        "model_name": {}, "model_version": {},
    },
}
