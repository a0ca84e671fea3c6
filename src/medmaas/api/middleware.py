"""Pure-ASGI middleware: request ids, body-size limit, security headers.

Written as raw ASGI rather than BaseHTTPMiddleware: the body is read only up to the limit (a
50 MB upload is refused at the first chunk past it) and then replayed to the app. The helpers
here are shared with the data plane (``medmaas.api.dataplane``), which answers predictions
without going through FastAPI.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from medmaas.exceptions import PayloadTooLargeError

Scope = dict[str, Any]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    # Strict for the dashboard (no inline script or style, nothing from elsewhere); plots are
    # fetched with the key and shown from blob: URLs.
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
                                 b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


def new_request_id() -> str:
    """128 random bits as hex, like a uuid4 but at a third of the cost."""
    return os.urandom(16).hex()


def extra_headers(request_id: str, tls: bool) -> list[tuple[bytes, bytes]]:
    headers = [*SECURITY_HEADERS, (b"x-request-id", request_id.encode())]
    if tls:
        headers.append(HSTS)
    return headers


async def read_body(receive: Any, limit: int, declared: bytes | None) -> bytes | None:
    """The whole request body, or None if the client went away.

    Raises PayloadTooLargeError as soon as the declared length or the bytes received pass
    ``limit``, so nothing downstream ever half-processes an oversized upload.
    """
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(_too_large(int(declared), limit))
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:
            raise PayloadTooLargeError(_too_large(received, limit))
        if not message.get("more_body", False):
            if not chunks:
                return chunk  # the usual case: one message, no join
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


def _too_large(size: int, limit: int) -> str:
    return f"request body of {size} bytes or more exceeds the limit of {limit} bytes"


async def send_json(send: Any, status: int, body: bytes, request_id: str, tls: bool,
                    headers: list[tuple[bytes, bytes]] | None = None,
                    media_type: str = "application/json") -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode()),
        *(headers or []), *extra_headers(request_id, tls)]})
    await send({"type": "http.response.body", "body": body})


class ServiceMiddleware:
    def __init__(self, app: Any, max_body_bytes: int, tls: bool = False) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            body = await read_body(receive, self.max_body_bytes, declared)
        except PayloadTooLargeError as exc:
            from medmaas.api.errors import error_media_type, formatted  # errors imports this module

            # In the shape the path's protocol reads errors in (V2, FHIR OperationOutcome, REST).
            path = scope.get("path", "")
            status, error = formatted(path, 413, str(exc), request_id)
            await send_json(send, status, orjson.dumps(error), request_id, self.tls, [(b"connection", b"close")],
                            media_type=error_media_type(path))
            return
        if body is None:
            return  # client went away
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  *extra_headers(request_id, self.tls)]}
            await send(message)

        await self.app(scope, replay, send_with_headers)
