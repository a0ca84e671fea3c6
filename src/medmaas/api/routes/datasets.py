"""Stored datasets: tables with patient data, encrypted at rest, one project's own.

The body is the file itself (CSV, TSV, Excel or Parquet, as ``medmaas train`` reads them); it is
parsed once to refuse what could not be trained on and to count rows and columns, then sealed
(``medmaas.security.encryption``). Reading the content back is audited like a prediction: the
event names the dataset and the content's hash, never the data.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from medmaas.api import predicting
from medmaas.api.deps import State, allowed
from medmaas.api.schemas import DatasetPublic, error_responses
from medmaas.audit import AuditEvent
from medmaas.exceptions import InvalidInputError
from medmaas.security.keys import Principal

# 409: an upload under a name already taken.
router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429))

_UPLOAD = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


#: The media types a table may be sent as, and the name that makes ``read_table`` pick its reader.
#: Only these are stored, in plaintext beside the sealed data: a Content-Type's parameters, or a
#: type of the caller's own invention, could carry anything, an identifier included.
TABLE_TYPES = {"text/csv": "upload.csv", "text/tab-separated-values": "upload.tsv",
               "application/vnd.apache.parquet": "upload.parquet", "application/x-parquet": "upload.parquet",
               "text/plain": "upload", "application/octet-stream": "upload"}


def table_type(content_type: str | None) -> str:
    """The media type to store for an upload's Content-Type: one of TABLE_TYPES.

    >>> table_type("text/CSV; charset=utf-8"), table_type("text/x-patient-4711")
    ('text/csv', 'application/octet-stream')
    """
    essence = (content_type or "").split(";")[0].strip().lower()
    return essence if essence in TABLE_TYPES else "application/octet-stream"


def _event(principal: Principal, action: str, name: str, sha256: str | None = None) -> AuditEvent:
    return AuditEvent(actor=principal.key_id, role=principal.role, action=action, project=principal.project,
                      resource=name, outcome="ok", input_sha256=sha256)


@router.post("/{name}", response_model=DatasetPublic, status_code=201, openapi_extra=_UPLOAD,
             summary="store a table (CSV, TSV, Parquet) encrypted; a taken name is a 409")
async def put_dataset(name: str, request: Request, state: State,
                      principal: Principal = allowed("datasets:write")) -> Any:
    from medmaas.data.readers import read_table

    body = await request.body()
    if not body:
        raise InvalidInputError("send the table as the request body; got an empty body")
    media_type = table_type(request.headers.get("content-type"))
    frame = await predicting.in_thread(lambda: read_table(body, name=TABLE_TYPES[media_type]))
    info = await predicting.in_thread(lambda: state.datasets.put(
        principal.project, name, body, media_type=media_type,
        created_by=principal.key_id, rows=len(frame), columns=len(frame.columns)))
    await state.writer.append(_event(principal, "dataset.create", name, info.sha256))
    return DatasetPublic.model_validate(info, from_attributes=True)


@router.get("", response_model=list[DatasetPublic], summary="the project's datasets (no content)")
def list_datasets(state: State, principal: Principal = allowed("datasets:read")) -> list[Any]:
    return [DatasetPublic.model_validate(d, from_attributes=True) for d in state.datasets.list(principal.project)]


@router.get("/{name}", response_model=DatasetPublic, summary="one dataset's details (no content)")
def show_dataset(name: str, state: State, principal: Principal = allowed("datasets:read")) -> Any:
    return DatasetPublic.model_validate(state.datasets.get(principal.project, name), from_attributes=True)


@router.get("/{name}/content", response_class=Response, summary="the content, decrypted (audited)",
            responses={200: {"content": {"application/octet-stream": {}}}})
def dataset_content(name: str, state: State, principal: Principal = allowed("datasets:read")) -> Response:
    info, data = state.datasets.open(principal.project, name)
    state.audit.append(_event(principal, "dataset.read", name, info.sha256))
    return Response(data, media_type="application/octet-stream")


@router.delete("/{name}", status_code=204, summary="delete a dataset: its data key is destroyed")
def delete_dataset(name: str, state: State, principal: Principal = allowed("datasets:write")) -> None:
    info = state.datasets.delete(principal.project, name)
    state.audit.append(_event(principal, "dataset.delete", name, info.sha256))
