"""The Open Inference Protocol's answers: server and model metadata, readiness, inference.

Inference goes the way every prediction goes (``api.predicting``): the same model lookup,
micro-batcher and fail-closed audit event, recording the sha256 of the request body as it came;
only the decoding (tensors instead of JSON rows) and the encoding (tensors instead of JSON
predictions) are the protocol's own. Both the data plane and the FastAPI routes call these.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import TYPE_CHECKING, Any

from medmaas import __version__
from medmaas.api import predicting
from medmaas.api.v2 import tensors
from medmaas.api.v2.models import (
    COMMON_PARAMETERS,
    PLATFORM,
    TextContract,
    contract_for,
    deidentify,
)
from medmaas.exceptions import PayloadTooLargeError, SchemaError

if TYPE_CHECKING:
    from medmaas.api.state import AppState
    from medmaas.security.keys import Principal

EXTENSIONS = ["binary_tensor_data"]
#: Bodies up to this size are parsed, decoded and encoded on the event loop (a 64 × 30 float
#: matrix is ~8 KB); bigger ones in a worker thread, so the loop keeps answering.
LOOP_BYTES = 64 * 1024


def server_metadata() -> dict[str, Any]:
    return {"name": "medmaas", "version": __version__, "extensions": EXTENSIONS}


async def model_metadata(state: AppState, principal: Principal, name: str, version: str | None) -> dict[str, Any]:
    """Name, versions, platform and tensors of the version ``version`` names (default: the
    production version, else the latest)."""
    model = await predicting.find_model(state, principal, name, version)
    versions = await predicting.in_thread(state.registry.list_versions, name, principal.project)
    contract = contract_for(model.spec)
    return {
        "name": model.name,
        "versions": [str(v.version) for v in versions],
        "platform": PLATFORM,
        "inputs": [t.public() for t in contract.inputs(model.spec)],
        "outputs": [t.public() for t in contract.outputs(model.spec)],
        "parameters": {"version": str(model.version), "kind": model.spec.kind, "task": model.spec.task},
    }


async def model_ready(state: AppState, principal: Principal, name: str, version: str | None) -> dict[str, Any]:
    """Ready when the version resolves and loads; NotFoundError (404) when it does not exist."""
    model = await predicting.find_model(state, principal, name, version)
    return {"name": model.name, "ready": True}


async def infer(state: AppState, principal: Principal, name: str, version: str | None, body: bytes, *,
                header_length: int | None, content_encoding: str | None, path: str,
                request_id: str) -> tuple[bytes, int | None]:
    """The response body of an inference request, and its JSON header's length when binary
    outputs follow it. Answered only once audited."""
    input_sha256 = hashlib.sha256(body).hexdigest()
    body = decompressed(body, content_encoding, state.settings.max_body_bytes)
    on_loop = len(body) <= LOOP_BYTES
    request = (tensors.parse_request(body, header_length) if on_loop
               else await predicting.in_thread(tensors.parse_request, body, header_length))
    model = await predicting.find_model(state, principal, name, version)
    contract = contract_for(model.spec)
    unknown = sorted(set(request.parameters) - COMMON_PARAMETERS - contract.parameters)
    if unknown:
        known = ", ".join(map(repr, sorted(COMMON_PARAMETERS | contract.parameters)))
        raise SchemaError(f"unknown request parameter(s) {', '.join(map(repr, unknown))}; this model reads {known}")
    deidentified = deidentify(request.parameters) if isinstance(contract, TextContract) else True
    if not deidentified:
        await predicting.authorize(state, principal, "text:identified", path, "POST")
    offered = [t.name for t in contract.outputs(model.spec)]
    wanted = offered if request.outputs is None else [o.name for o in request.outputs]
    for output in wanted:
        if output not in offered:
            raise SchemaError(f"unknown output {output!r}; this model gives {', '.join(map(repr, offered))}")
    rows = contract.rows(request.inputs)
    if rows > state.settings.max_rows:
        raise PayloadTooLargeError(f"{rows} rows exceed the limit of {state.settings.max_rows} rows per request")
    on_loop = on_loop and model.kind.loop_rows > 0
    decode, spec = contract.decode, model.spec
    batch = (decode(spec, request.inputs, request.parameters) if on_loop
             else await predicting.in_thread(decode, spec, request.inputs, request.parameters))
    outputs = await predicting.infer(state, model, batch)
    encoded, parameters = (contract.encode(spec, outputs, batch) if on_loop
                           else await predicting.in_thread(contract.encode, spec, outputs, batch))
    binary = {o: request.binary_output for o in wanted}
    for requested in request.outputs or []:
        if requested.binary is not None:
            binary[requested.name] = requested.binary
    by_name = {t.name: t for t in encoded}
    answer = tensors.encode_response(
        model_name=model.name, model_version=str(model.version), request_id=request.id,
        outputs=[by_name[name] for name in wanted], binary=binary, parameters=parameters)
    await predicting.audit_answer(state, principal, model, batch, input_sha256=input_sha256,
                                  request_id=request_id, deidentified=deidentified)
    return answer


_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def decompressed(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body as sent before ``Content-Encoding`` (tritonclient may gzip or deflate it),
    refused once it grows past ``limit``."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding not in _WBITS:
        raise SchemaError(f"Content-Encoding {encoding!r} is not supported; send gzip, deflate or none")
    inflater = zlib.decompressobj(_WBITS[encoding])
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise SchemaError(f"the request body is not valid {encoding} data") from None
    if len(out) > limit:
        raise PayloadTooLargeError(f"the {encoding} request body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise SchemaError(f"the {encoding} request body is truncated")
    return out
