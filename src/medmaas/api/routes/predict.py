"""Predictions and explanations, JSON rows or a CSV upload; each one audited before it returns."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from medmaas.api.deps import State, allowed
from medmaas.api.schemas import ExplainRequest, PredictRequest, PredictResponse
from medmaas.audit import AuditEvent, hash_input
from medmaas.exceptions import PayloadTooLargeError, SchemaError
from medmaas.runtime.loaded import LoadedModel
from medmaas.security.keys import Principal

router = APIRouter(prefix="/v1/models", tags=["predict"])
VersionQuery = Query(default=None, description="version number, stage or alias; default: production, else latest")


def _model(state: Any, principal: Principal, name: str, version: str | None) -> LoadedModel:
    ref: int | str | None = int(version) if version and version.isdigit() else version
    return state.models.get(state.models.resolve(principal.project, name, ref))  # type: ignore[no-any-return]


def _check_rows(state: Any, n: int) -> None:
    if n > state.settings.max_rows:
        raise PayloadTooLargeError(f"{n} rows exceed the limit of {state.settings.max_rows} rows per request")


def _audit(state: Any, principal: Principal, action: str, model: LoadedModel, rows: Any, n: int) -> None:
    # Fail closed: if the event cannot be written, the caller gets an error, not a prediction.
    state.audit.append(AuditEvent(
        actor=principal.key_id, role=principal.role, action=action, project=principal.project,
        resource=model.name, version=model.version, outcome="ok", input_sha256=hash_input(rows),
        detail={"rows": n},
    ))


def _predict(state: Any, principal: Principal, model: LoadedModel, rows: Any,
             explain: bool, request: Request, top_k: int = 5) -> dict[str, Any]:
    _check_rows(state, len(rows))
    batch = model.decode(rows if hasattr(rows, "columns") else {"rows": rows})
    rows = batch.records
    predictions = model.predict(batch)
    if explain:
        for item, explanation in zip(predictions, model.explain(batch, top_k), strict=True):
            item["explanation"] = explanation
    _audit(state, principal, "model.explain" if explain else "model.predict", model, rows, batch.n)
    return {"model": model.name, "version": model.version, "request_id": request.state.request_id,
            "predictions": predictions}


@router.post("/{name}/predict", response_model=PredictResponse,
             summary="predict for JSON rows (one object per patient)")
def predict(name: str, body: PredictRequest, request: Request, state: State,
            version: str | None = VersionQuery, principal: Principal = allowed("predict")) -> dict[str, Any]:
    model = _model(state, principal, name, version)
    return _predict(state, principal, model, body.rows, body.explain, request)


@router.post("/{name}/explain", response_model=PredictResponse,
             summary="predict and explain: the top feature contributions (SHAP) per row")
def explain(name: str, body: ExplainRequest, request: Request, state: State,
            version: str | None = VersionQuery, principal: Principal = allowed("explain")) -> dict[str, Any]:
    model = _model(state, principal, name, version)
    return _predict(state, principal, model, body.rows, True, request, body.top_k)


@router.post("/{name}/predict/csv", response_model=PredictResponse,
             summary="batch prediction for a CSV body (text/csv), one row per patient",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}},
                                            "required": True}})
async def predict_csv(name: str, request: Request, state: State, version: str | None = VersionQuery,
                      id_column: str | None = Query(default=None, description="a column to echo back as 'id'"),
                      principal: Principal = allowed("predict")) -> dict[str, Any]:
    from starlette.concurrency import run_in_threadpool

    from medmaas.data.readers import read_table

    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("text/csv", "application/octet-stream", "text/plain")):
        raise SchemaError(f"send the CSV as the request body with Content-Type text/csv; got {content_type or 'none'!r}")
    body = await request.body()
    frame = read_table(body, name="upload.csv")
    ids = None
    if id_column is not None:
        if id_column not in frame.columns:
            raise SchemaError(f"id_column {id_column!r} is not a column of the CSV")
        ids = frame.pop(id_column).astype(str).tolist()
    model = _model(state, principal, name, version)
    result = await run_in_threadpool(_predict, state, principal, model, frame, False, request)
    if ids is not None:
        for item, ident in zip(result["predictions"], ids, strict=True):
            item["id"] = ident
    return result
