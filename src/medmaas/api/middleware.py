"""Pure-ASGI middleware: request ids, body-size limit, security headers.

Written as raw ASGI rather than BaseHTTPMiddleware: the body is read only up to the limit (a
50 MB upload is refused at the first chunk past it) and then replayed to the app.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

Scope = dict[str, Any]

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
]


class ServiceMiddleware:
    def __init__(self, app: Any, max_body_bytes: int, tls: bool = False) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._reject(send, request_id, int(declared))
            return

        # Read the body up to the limit before the app sees it, so an oversized or lying
        # upload is refused with 413 and nothing downstream ever half-processes it.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_body_bytes:
                await self._reject(send, request_id, received)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [*SECURITY_HEADERS, (b"x-request-id", request_id.encode())]
                if self.tls:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, replay, send_with_headers)

    async def _reject(self, send: Any, request_id: str, size: int) -> None:
        body = orjson.dumps({
            "error": f"request body of {size} bytes or more exceeds the limit of {self.max_body_bytes} bytes",
            "request_id": request_id,
        })
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"), *SECURITY_HEADERS, (b"x-request-id", request_id.encode())]})
        await send({"type": "http.response.body", "body": body})
