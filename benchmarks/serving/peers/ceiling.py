"""The ceiling: the least a secure prediction endpoint has to do, as a bare ASGI function.

orjson parse -> float32 matrix -> onnxruntime (one intra-op thread) -> orjson response, behind
a bearer-key check (HMAC of the token compared with ``hmac.compare_digest`` against a digest
held in a dict, as a key store would). No framework, no validation beyond what the model needs,
no logging. Run: ``uvicorn benchmarks.serving.peers.ceiling:app --http httptools --loop uvloop
--no-access-log`` with BENCH_DIR (model.onnx, meta.json) and BENCH_KEY set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import orjson

_DIR = Path(os.environ["BENCH_DIR"])
_META = json.loads((_DIR / "meta.json").read_text())
FEATURES: list[str] = _META["features"]
CLASSES: list[str] = _META["classes"]

_options = ort.SessionOptions()
_options.intra_op_num_threads = 1
_options.inter_op_num_threads = 1
SESSION = ort.InferenceSession(str(_DIR / "model.onnx"), _options, providers=["CPUExecutionProvider"])

_SECRET = os.urandom(32)
_TOKEN = os.environ["BENCH_KEY"]  # mm_<key id>_<secret>, like a medmaas key
KEYS = {_TOKEN.split("_")[1]: hmac.new(_SECRET, _TOKEN.encode(), hashlib.sha256).digest()}

_JSON = [(b"content-type", b"application/json")]


def _authorized(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"authorization":
            if not value.startswith(b"Bearer "):
                return False
            token = value[7:]
            parts = token.split(b"_")
            expected = KEYS.get(parts[1].decode()) if len(parts) > 2 else None
            digest = hmac.new(_SECRET, token, hashlib.sha256).digest()
            return expected is not None and hmac.compare_digest(digest, expected)
    return False


def _predict(body: bytes) -> bytes:
    rows = orjson.loads(body)["rows"]
    x = np.array([[row[f] for f in FEATURES] for row in rows], dtype=np.float32)
    proba = SESSION.run(["probabilities"], {"input": x})[0]
    labels = proba.argmax(axis=1)
    return orjson.dumps({"predictions": [
        {"label": CLASSES[k], "probability": float(p[k])} for k, p in zip(labels, proba, strict=True)
    ]})


async def _reply(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/readyz":
        return await _reply(send, 200, b'{"status":"ready"}')
    if scope["method"] != "POST" or scope["path"] != "/predict":
        return await _reply(send, 404, b'{"error":"not found"}')
    if not _authorized(scope["headers"]):
        return await _reply(send, 401, b'{"error":"unauthorized"}')
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    try:
        out = _predict(b"".join(chunks))
    except (ValueError, KeyError, TypeError):
        return await _reply(send, 400, b'{"error":"bad request"}')
    await _reply(send, 200, out)
