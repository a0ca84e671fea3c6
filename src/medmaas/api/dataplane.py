"""The data plane: ``POST /v1/models/{name}/predict`` and the V2 protocol's
``POST /v2/models/{name}[/versions/{version}]/infer`` answered straight from ASGI.

FastAPI's per-request machinery (routing, dependency injection, response models, middleware
stacks) costs several hundred microseconds, more than everything a one-patient prediction
needs. This handler does the same steps with the same functions (``api.predicting``: the same
authentication, permission check, validation, batching and fail-closed audit, the same error
table) and nothing else; everything that is not a JSON prediction goes on to the control plane,
the FastAPI app, whose ``/docs`` also documents this route.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from medmaas.api import errors, predicting
from medmaas.api.middleware import extra_headers, new_request_id, read_body, send_json
from medmaas.api.v2 import service as v2
from medmaas.api.v2.tensors import header_length
from medmaas.exceptions import MedmaasError, SchemaError

_PREDICT = re.compile(r"^/v1/models/([^/]+)/predict$")
_INFER = re.compile(r"^/v2/models/([^/]+)(?:/versions/([^/]+))?/infer$")
_WANTED = {b"authorization", b"x-api-key", b"content-type", b"content-length", b"origin",
           b"inference-header-content-length", b"content-encoding"}


class DataPlane:
    """ASGI app: predictions here, everything else to ``control`` (the FastAPI app wrapped in
    its middleware). ``fastapi`` is the FastAPI app itself, whose lifespan builds the state."""

    def __init__(self, control: Any, fastapi: Any, *, max_body_bytes: int, tls: bool,
                 cors_origins: list[str] | None = None) -> None:
        self.control = control
        self.fastapi = fastapi
        self.max_body_bytes = max_body_bytes
        self.tls = tls
        # The same allow-list as the control plane's CORSMiddleware (which also answers the
        # preflight OPTIONS requests): a browser app may read predictions only from these.
        self.cors_origins = {o.encode() for o in cors_origins or []}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            match = _PREDICT.match(path)
            if match is not None:
                await self._respond(scope, receive, send, self._answer, unquote(match.group(1)), None)
                return
            match = _INFER.match(path)
            if match is not None:
                version = match.group(2)
                await self._respond(scope, receive, send, self._infer, unquote(match.group(1)),
                                    None if version is None else unquote(version))
                return
        await self.control(scope, receive, send)

    async def _respond(self, scope: dict[str, Any], receive: Any, send: Any, answer: Any, name: str,
                       version: str | None) -> None:
        """Read the body, let ``answer`` make the response (status 200, body, content type,
        headers) and send it; errors in the shape the path's protocol uses."""
        request_id = new_request_id()
        headers = {k: v for k, v in scope["headers"] if k in _WANTED}
        cors = self._cors(headers.get(b"origin"))
        try:
            body = await read_body(receive, self.max_body_bytes, headers.get(b"content-length"))
            if body is None:
                return  # the client went away
            content, content_type, extra = await answer(scope, headers, body, name, version, request_id)
        except MedmaasError as exc:
            status, error, more = errors.describe(exc, request_id, scope["path"])
            await send_json(send, status, orjson.dumps(error), request_id, self.tls,
                            [*cors, *((k.lower().encode(), v.encode()) for k, v in more.items())],
                            media_type=errors.error_media_type(scope["path"]))
            return
        except Exception as exc:
            status, error = errors.unexpected_error(exc, request_id, scope["path"])
            await send_json(send, status, orjson.dumps(error), request_id, self.tls, cors,
                            media_type=errors.error_media_type(scope["path"]))
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", content_type), (b"content-length", str(len(content)).encode()),
            *extra, *cors, *extra_headers(request_id, self.tls)]})
        await send({"type": "http.response.body", "body": content})

    def _cors(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        if origin is None or not self.cors_origins:
            return []
        if b"*" in self.cors_origins:
            return [(b"access-control-allow-origin", b"*")]
        if origin in self.cors_origins:
            return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        return []

    async def _principal(self, scope: dict[str, Any], headers: dict[bytes, bytes]) -> Any:
        """The caller, allowed to predict."""
        state = self.fastapi.state.medmaas
        authorization = headers.get(b"authorization")
        api_key = headers.get(b"x-api-key")
        principal = await predicting.authenticate(
            state, authorization.decode("latin-1") if authorization else None,
            api_key.decode("latin-1") if api_key else None)
        await predicting.authorize(state, principal, "predict", scope["path"], "POST")
        return principal

    async def _answer(self, scope: dict[str, Any], headers: dict[bytes, bytes], body: bytes,
                      name: str, version: str | None, request_id: str) -> tuple[bytes, bytes, list[Any]]:
        state = self.fastapi.state.medmaas
        principal = await self._principal(scope, headers)
        content_type = headers.get(b"content-type", b"application/json")
        if b"json" not in content_type:
            raise SchemaError(
                f"send the rows as JSON with Content-Type application/json; got {content_type.decode('latin-1')!r}")
        parsed = predicting.parse_predict_body(body)
        await predicting.authorize_body(state, principal, parsed, scope["path"])
        if scope.get("query_string"):  # /v1 names the version in the query
            version = parse_qs(scope["query_string"].decode("latin-1")).get("version", [None])[-1]
        model = await predicting.find_model(state, principal, name, version)
        answer = await predicting.predict(
            state, principal, model, parsed.rows, request_id=request_id,
            input_sha256=hashlib.sha256(body).hexdigest(), explain=parsed.explain, deidentify=parsed.deidentify)
        return orjson.dumps(answer), b"application/json", []

    async def _infer(self, scope: dict[str, Any], headers: dict[bytes, bytes], body: bytes,
                     name: str, version: str | None, request_id: str) -> tuple[bytes, bytes, list[Any]]:
        principal = await self._principal(scope, headers)
        encoding = headers.get(b"content-encoding")
        content, length = await v2.infer(
            self.fastapi.state.medmaas, principal, name, version, body,
            header_length=header_length(headers.get(b"inference-header-content-length")),
            content_encoding=encoding.decode("latin-1") if encoding else None, path=scope["path"],
            request_id=request_id)
        if length is None:
            return content, b"application/json", []
        # tritonclient finds where the JSON ends by this header, KServe's client too.
        return content, b"application/octet-stream", [(b"inference-header-content-length", str(length).encode())]
