"""A prediction as the service makes it: authorize, find the model, validate, infer in a
batch, encode, audit, answer.

Every way a prediction arrives (the data plane's JSON route, the FastAPI routes for explain and
CSV uploads) calls these functions, so validation and audit exist once. The event loop does the
cheap steps itself; anything that may touch the database or the disk, or that is slow for its
size (decoding thousands of rows, SHAP), runs in a worker thread so the loop keeps answering.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import orjson

from medmaas.api.deps import credentials, denial_event
from medmaas.audit import AuditEvent
from medmaas.exceptions import PayloadTooLargeError, PermissionDeniedError, SchemaError
from medmaas.registry.refs import parse_ref
from medmaas.registry.tables import utcnow
from medmaas.security.permissions import require

if TYPE_CHECKING:
    from medmaas.api.state import AppState
    from medmaas.kinds.base import Batch
    from medmaas.runtime.loaded import LoadedModel
    from medmaas.security.keys import Principal

T = TypeVar("T")

PREDICT_FIELDS = frozenset({"rows", "explain", "deidentify"})


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def authenticate(state: AppState, authorization: str | None, api_key: str | None) -> Principal:
    token = credentials(authorization, api_key)
    principal = state.keys.verify_cached(token)
    if principal is None:  # not in memory: the key store asks the database
        principal = await in_thread(state.keys.verify, token)
    state.limiter.check(principal.key_id)
    return principal


async def authorize(state: AppState, principal: Principal, action: str, path: str, method: str) -> None:
    """Refusals of known principals are audited (see ``deps.allowed``)."""
    try:
        require(principal, action)
    except PermissionDeniedError:
        await state.writer.append(denial_event(principal, action, path, method))
        raise


async def find_model(state: AppState, principal: Principal, name: str, version: str | None) -> LoadedModel:
    models, ref = state.models, parse_ref(version)
    info = models.resolve_cached(principal.project, name, ref)
    if info is None:
        info = await in_thread(models.resolve, principal.project, name, ref)
    model = models.get_cached(info)
    if model is None:
        model = await in_thread(models.get, info)
    return model


class PredictBody(NamedTuple):
    rows: Any
    explain: bool
    #: text models: false sends notes to the model as they are (needs "text:identified")
    deidentify: bool


def loads_allowing_nan(body: bytes) -> Any:
    """JSON by orjson; NaN and Infinity, which are not JSON but which some clients send
    (Python's json.dumps, tritonclient), by the standard library, so the model's checks can name
    the field instead of a byte offset. ValueError with orjson's message otherwise."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ValueError(str(exc)) from None


def parse_predict_body(body: bytes) -> PredictBody:
    """``(rows, explain, deidentify)`` from a JSON body ``{"rows": [...], "explain": false}``."""
    if not body:
        raise SchemaError('the request body is empty; send JSON {"rows": [{...}, ...]}')
    try:
        payload = loads_allowing_nan(body)
    except ValueError as exc:
        raise SchemaError(f"the request body is not valid JSON: {exc}") from None
    if type(payload) is not dict:
        raise SchemaError('the request body must be a JSON object {"rows": [{...}, ...]}')
    if not PREDICT_FIELDS.issuperset(payload):
        extra = sorted(set(payload) - PREDICT_FIELDS)
        raise SchemaError(f"unknown field(s) {', '.join(map(repr, extra))}: extra fields are not "
                          "allowed; send 'rows' and optionally 'explain' and 'deidentify'")
    if "rows" not in payload:
        raise SchemaError("field 'rows' is required: a list of objects, one per patient")
    explain = payload.get("explain", False)
    if type(explain) is not bool:
        raise SchemaError(f"field 'explain' must be true or false; got {explain!r}")
    deidentify = payload.get("deidentify", True)
    if type(deidentify) is not bool:
        raise SchemaError(f"field 'deidentify' must be true or false; got {deidentify!r}")
    return PredictBody(payload["rows"], explain, deidentify)


async def authorize_body(state: AppState, principal: Principal, parsed: PredictBody, path: str) -> None:
    """The permissions a predict body asks for beyond "predict": explanations, and notes sent
    without de-identification."""
    if parsed.explain:
        await authorize(state, principal, "explain", path, "POST")
    if not parsed.deidentify:
        await authorize(state, principal, "text:identified", path, "POST")


async def predict(state: AppState, principal: Principal, model: LoadedModel, payload: Any, *,
                  request_id: str, input_sha256: str, explain: bool = False,
                  top_k: int = 5, deidentify: bool = True) -> dict[str, Any]:
    """Predictions (and explanations) for ``payload``, answered only once audited.

    ``payload`` is a list of JSON rows or a DataFrame from an upload; ``input_sha256`` is the
    hash of the request body as received, which the audit event records instead of the data.
    Notes of text models are de-identified while decoding unless ``deidentify`` is false (the
    caller's role was checked for that).
    """
    n = len(payload) if hasattr(payload, "__len__") else 0
    if n > state.settings.max_rows:
        raise PayloadTooLargeError(f"{n} rows exceed the limit of {state.settings.max_rows} rows per request")
    # DataFrames are never cheap; nor are images (resampling), whose kind sets loop_rows to 0.
    on_loop = n <= model.kind.loop_rows and not hasattr(payload, "columns")
    wrapped = payload if hasattr(payload, "columns") else {"rows": payload}
    if not deidentify and not hasattr(payload, "columns"):
        wrapped["deidentify"] = False
    batch = model.decode(wrapped) if on_loop else await in_thread(model.decode, wrapped)
    return await answer(state, principal, model, batch, request_id=request_id, input_sha256=input_sha256,
                        explain=explain, top_k=top_k, encode_on_loop=on_loop, deidentified=deidentify)


async def answer(state: AppState, principal: Principal, model: LoadedModel, batch: Batch, *,
                 request_id: str, input_sha256: str, explain: bool = False, top_k: int = 5,
                 encode_on_loop: bool = False, deidentified: bool = True) -> dict[str, Any]:
    """Infer, encode, explain and audit a decoded batch (JSON rows or an uploaded file)."""
    outputs = await infer(state, model, batch)
    encode = model.kind.encode
    predictions = (encode(model.spec, outputs, batch) if encode_on_loop
                   else await in_thread(encode, model.spec, outputs, batch))
    if explain:
        explanations = await in_thread(model.explain, batch, top_k)
        for item, explanation in zip(predictions, explanations, strict=True):
            item["explanation"] = explanation
    await audit_answer(state, principal, model, batch, input_sha256=input_sha256, request_id=request_id,
                       explain=explain, deidentified=deidentified)
    return {"model": model.name, "version": model.version, "request_id": request_id,
            "predictions": predictions}


async def infer(state: AppState, model: LoadedModel, batch: Batch) -> dict[str, Any]:
    """The ONNX outputs for a decoded batch, run by the model's micro-batcher."""
    return await state.models.batcher(model).run(batch.feeds, batch.n)


async def audit_answer(state: AppState, principal: Principal, model: LoadedModel, batch: Batch, *,
                       input_sha256: str, request_id: str, explain: bool = False,
                       deidentified: bool = True) -> None:
    """The audit event of an answered prediction, whatever protocol it came by. Fail closed:
    callers send the answer only after this returns (the event is durable). The request id
    (the X-Request-ID the caller got) ties an answer to its event."""
    await state.writer.append(AuditEvent(
        actor=principal.key_id, role=principal.role,
        action="model.explain" if explain else "model.predict", project=principal.project,
        resource=model.name, version=model.version, outcome="ok", input_sha256=input_sha256,
        # A request that skipped de-identification (text:identified) is marked, for review.
        detail={"rows": batch.n, "request_id": request_id} if deidentified
        else {"rows": batch.n, "request_id": request_id, "deidentified": False}, at=utcnow(),
    ))
