"""Predictions and explanations, JSON rows or a CSV upload; each one audited before it returns.

``POST /{name}/predict`` is answered by the data plane (``api.dataplane``) before FastAPI sees
it; the route here documents it in OpenAPI and serves it when the FastAPI app is mounted on its
own. All three routes call the same functions in ``api.predicting``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Query, Request

from medmaas.api import predicting
from medmaas.api.deps import State, allowed
from medmaas.api.schemas import ExplainRequest, PredictRequest, PredictResponse, error_responses
from medmaas.exceptions import SchemaError
from medmaas.security.keys import Principal

router = APIRouter(prefix="/v1/models", tags=["predict"],
                   responses=error_responses(401, 403, 404, 413, 422, 429, 501, 503))
#: routes whose body FastAPI or Starlette parses: bytes that are not UTF-8 JSON, or a malformed
#: multipart form, are a 400 there
_UNREADABLE = error_responses(400)
VersionQuery = Query(default=None, description="version number, stage or alias; default: production, else latest")


def _body_schema(model: Any) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"schema": model.model_json_schema()}},
                            "required": True}}


@router.post("/{name}/predict", response_model=PredictResponse,
             summary="predict for JSON rows (one object per patient)",
             openapi_extra=_body_schema(PredictRequest))
async def predict(name: str, request: Request, state: State, version: str | None = VersionQuery,
                  principal: Principal = allowed("predict")) -> dict[str, Any]:
    body = await request.body()
    parsed = predicting.parse_predict_body(body)
    await predicting.authorize_body(state, principal, parsed, request.url.path)
    model = await predicting.find_model(state, principal, name, version)
    return await predicting.predict(state, principal, model, parsed.rows, explain=parsed.explain,
                                    deidentify=parsed.deidentify, request_id=request.state.request_id,
                                    input_sha256=hashlib.sha256(body).hexdigest())


@router.post("/{name}/explain", response_model=PredictResponse, responses=_UNREADABLE,
             summary="predict and explain: the top feature contributions (SHAP) per row")
async def explain(name: str, body: ExplainRequest, request: Request, state: State,
                  version: str | None = VersionQuery,
                  principal: Principal = allowed("explain")) -> dict[str, Any]:
    if not body.deidentify:
        await predicting.authorize(state, principal, "text:identified", request.url.path, "POST")
    model = await predicting.find_model(state, principal, name, version)
    return await predicting.predict(state, principal, model, body.rows, explain=True, top_k=body.top_k,
                                    deidentify=body.deidentify,
                                    request_id=request.state.request_id,
                                    input_sha256=hashlib.sha256(await request.body()).hexdigest())


@router.post("/{name}/predict/csv", response_model=PredictResponse,
             summary="batch prediction for a CSV body (text/csv), one row per patient",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}},
                                            "required": True}})
async def predict_csv(name: str, request: Request, state: State, version: str | None = VersionQuery,
                      id_column: str | None = Query(default=None, description="a column to echo back as 'id'"),
                      principal: Principal = allowed("predict")) -> dict[str, Any]:
    from medmaas.data.readers import read_table

    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("text/csv", "application/octet-stream", "text/plain")):
        raise SchemaError(f"send the CSV as the request body with Content-Type text/csv; got {content_type or 'none'!r}")
    body = await request.body()
    frame = await predicting.in_thread(lambda: read_table(body, name="upload.csv"))
    ids = None
    if id_column is not None:
        if id_column not in frame.columns:
            raise SchemaError(f"id_column {id_column!r} is not a column of the CSV")
        ids = frame.pop(id_column).astype(str).tolist()
    model = await predicting.find_model(state, principal, name, version)
    result = await predicting.predict(state, principal, model, frame, request_id=request.state.request_id,
                                      input_sha256=hashlib.sha256(body).hexdigest())
    if ids is not None:
        for item, ident in zip(result["predictions"], ids, strict=True):
            item["id"] = ident
    return result


_FILE_BODY = {"requestBody": {"required": True, "content": {
    "application/dicom": {"schema": {"type": "string", "format": "binary"}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                 "description": "one file, or a WFDB record's header and data files"}},
        "required": ["file"]}},
}}}


#: Query parameters every upload route takes; any other is an option for the model's kind
#: (an ECG recording's sampling_rate, say), which the kind validates.
_ROUTE_QUERY = frozenset({"version", "filename", "explain"})
MAX_FILES_PER_UPLOAD = 8


async def _upload(request: Request, filename: str | None) -> dict[str, bytes]:
    """The uploaded files by name: the raw body (one file), or the ``file`` fields of a
    multipart form (a WFDB record is a header and its data files)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=MAX_FILES_PER_UPLOAD, max_fields=MAX_FILES_PER_UPLOAD + 4)
        uploads = [u for u in form.getlist("file") if not isinstance(u, str)]
        if not uploads:
            raise SchemaError("the multipart form needs a 'file' field holding the file")
        if len(uploads) == 1:
            return {filename or uploads[0].filename or "": await uploads[0].read()}
        files = {}
        for upload in uploads:
            if not upload.filename or upload.filename in files:
                raise SchemaError("each file of a multi-file upload needs its own file name (a WFDB header "
                                  "names its data files)")
            files[upload.filename] = await upload.read()
        return files
    body = await request.body()
    if not body:
        raise SchemaError("the request body is empty; send the file's bytes (DICOM, NIfTI, PNG, JPEG, or an "
                          "ECG recording: WFDB, EDF or CSV)")
    return {filename or "": body}


@router.post("/{name}/predict/file", response_model=PredictResponse,
             summary="predict for one uploaded file: DICOM (de-identified on arrival), NIfTI, PNG or JPEG; or "
                     "an ECG recording (WFDB header + data files, EDF, CSV, or a .zip of a record; query "
                     "options sampling_rate and lead)",
             openapi_extra=_FILE_BODY, responses=_UNREADABLE)
async def predict_file(name: str, request: Request, state: State, version: str | None = VersionQuery,
                       filename: str | None = Query(default=None, description="the file's name, for messages"),
                       explain: bool = Query(default=False, description="add a heat map of where the model looked"),
                       principal: Principal = allowed("predict")) -> dict[str, Any]:
    if explain:
        await predicting.authorize(state, principal, "explain", request.url.path, "POST")
    return await _answer_upload(request, state, principal, name, version, filename, explain)


async def _answer_upload(request: Request, state: Any, principal: Principal, name: str,
                         version: str | None, filename: str | None, explain: bool) -> dict[str, Any]:
    files = await _upload(request, filename)
    options = {k: v for k, v in request.query_params.items() if k not in _ROUTE_QUERY}
    model = await predicting.find_model(state, principal, name, version)
    batch = await predicting.in_thread(model.kind.decode_files, model.spec, files, options)
    return await predicting.answer(state, principal, model, batch, explain=explain,
                                   request_id=request.state.request_id, input_sha256=_files_sha256(files))


def _files_sha256(files: dict[str, bytes]) -> str:
    """The file's own sha256 for one file; for several, the sha256 of their sorted hashes (the
    same files hash the same whatever order they came in)."""
    if len(files) == 1:
        return hashlib.sha256(next(iter(files.values()))).hexdigest()
    digest = hashlib.sha256()
    for file_name in sorted(files):
        digest.update(hashlib.sha256(files[file_name]).digest())
    return digest.hexdigest()


@router.post("/{name}/explain/file", response_model=PredictResponse,
             summary="predict and explain one uploaded file: the heat map as an array and a PNG overlay "
                     "(ECG: which parts of which beats, drawn as a PNG)",
             openapi_extra=_FILE_BODY, responses=_UNREADABLE)
async def explain_file(name: str, request: Request, state: State, version: str | None = VersionQuery,
                       filename: str | None = Query(default=None, description="the file's name, for messages"),
                       principal: Principal = allowed("explain")) -> dict[str, Any]:
    return await _answer_upload(request, state, principal, name, version, filename, explain=True)
