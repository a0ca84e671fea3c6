"""Request and response bodies (ModelPublic, ModelsPublic, ...). Unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from medmaas.registry.refs import MAX_VERSION


class _In(BaseModel):
    # Strict: "1" is not a version and 0 is not false, as the data plane's own parsing says
    # (api.predicting.parse_predict_body).
    model_config = ConfigDict(extra="forbid", strict=True)


class HeadlinePublic(BaseModel):
    name: str
    value: float
    ci: tuple[float, float] | None = None


class JobPublic(BaseModel):
    id: int
    project: str
    name: str
    status: str
    progress: float
    message: str
    model_name: str | None


class ModelPublic(BaseModel):
    name: str
    kind: str
    task: str
    description: str
    created_at: datetime
    version_count: int
    latest_version: int | None
    production_version: int | None
    staging_version: int | None
    headline: HeadlinePublic | None
    updated_at: datetime | None = Field(default=None, description="the last registration or stage change")


class ModelsPublic(BaseModel):
    models: list[ModelPublic]
    building: list[JobPublic] = Field(default_factory=list, description="models still being built")


class VersionPublic(BaseModel):
    name: str
    version: int
    kind: str
    task: str
    stage: str
    aliases: list[str]
    bundle_sha256: str
    created_at: datetime
    created_by: str
    metrics: dict[str, Any]
    headline: HeadlinePublic | None


class VersionDetail(VersionPublic):
    spec: dict[str, Any]
    card: dict[str, Any]


class VersionsPublic(BaseModel):
    versions: list[VersionPublic]


class StageEventPublic(BaseModel):
    version: int
    from_stage: str | None
    to_stage: str
    actor: str
    at: datetime
    reason: str


class PromoteRequest(_In):
    stage: Literal["staging", "production", "archived", "candidate"]
    reason: str = Field(default="", max_length=500)


class AliasRequest(_In):
    version: int = Field(ge=1, le=MAX_VERSION)


class PredictRequest(_In):
    rows: list[dict[str, Any]] = Field(description="one object per patient: feature name -> value (null = not measured)")
    explain: bool = Field(default=False, description="also return the top feature contributions")
    deidentify: bool = Field(default=True, description="text models: de-identify each note before the model "
                             "reads it; false needs the text:identified permission")


class PredictResponse(BaseModel):
    model: str
    version: int
    request_id: str
    predictions: list[dict[str, Any]]


class ExplainRequest(_In):
    rows: list[dict[str, Any]]
    top_k: int = Field(default=10, ge=1, le=100)
    deidentify: bool = Field(default=True, description="text models: false needs the text:identified permission")


class KeyCreate(_In):
    name: str = Field(min_length=1, max_length=100)
    role: str
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)
    project: str | None = Field(default=None, description="the caller's own project if unset; "
                                "another project needs the projects:manage permission (sysadmin)")


class ProjectCreate(_In):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$", description="lowercase letters, digits, '.', '_', '-'")


class MePublic(BaseModel):
    """Who a key is: what the dashboard shows, and which of its actions to offer."""

    key_id: str
    name: str
    role: str
    project: str
    permissions: list[str] = Field(description="the actions the key's role may take, sorted")


class ProjectPublic(BaseModel):
    name: str
    created: bool = Field(default=False, description="false when the project already existed")


class DatasetPublic(BaseModel):
    name: str
    project: str
    media_type: str
    sha256: str = Field(description="of the content as uploaded")
    size_bytes: int
    rows: int | None
    columns: int | None
    encrypted: bool = Field(description="always true: stored with AES-256-GCM under its own data key")
    kek_id: str = Field(description="the key-encryption key its data key is wrapped under")
    created_at: datetime
    created_by: str


class KeyPublic(BaseModel):
    key_id: str
    name: str
    role: str
    project: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


class KeyCreated(KeyPublic):
    api_key: str = Field(description="shown once; store it now")


class AuditEventPublic(BaseModel):
    seq: int
    at: datetime
    actor: str
    role: str | None
    action: str
    project: str
    resource: str
    version: int | None
    outcome: str
    input_sha256: str | None
    detail: dict[str, Any]
    hash: str


class VerifyPublic(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str


# -- errors, as each protocol answers them ------------------------------------------------------
# Declared on every route (``responses=error_responses(...)``), so the OpenAPI document says what
# the server really answers: the error table in ``api.errors`` maps each error class to one status.


class ErrorPublic(BaseModel):
    """A /v1 error: what must hold and what came, and the request id to quote."""

    error: str = Field(description="what must hold and what came, e.g. \"column 'age' must be numeric; got 'abc'\"")
    request_id: str = Field(description="the X-Request-ID of this request; the audit log and the server log carry it")


class V2ErrorPublic(BaseModel):
    """An Open Inference Protocol error (the request id is in the X-Request-ID header)."""

    error: str


class IssuePublic(BaseModel):
    severity: Literal["fatal", "error"]
    code: str = Field(description="a FHIR issue type, e.g. invalid, not-found, login, forbidden")
    diagnostics: str


class OperationOutcomePublic(BaseModel):
    """A FHIR R4 OperationOutcome: how the FHIR routes answer errors; its id is the request id."""

    resource_type: Literal["OperationOutcome"] = Field(alias="resourceType")
    id: str
    issue: list[IssuePublic] = Field(min_length=1)


ERROR_MEANINGS: dict[int, str] = {
    400: "the body could not be read: not UTF-8, or a malformed multipart form "
         "(the V2 protocol: any invalid request)",
    401: "no API key, or one that is invalid, revoked or expired",
    403: "the key's role may not do this",
    404: "no such model, version, alias or resource",
    409: "the change conflicts with the current state",
    413: "the body, a note or the number of rows is over the limit",
    422: "invalid input: the message says what must hold and what came",
    429: "this key sent more than its rate (MEDMAAS_RATE_LIMIT_PER_S): retry after Retry-After",
    501: "a library this needs is not installed on the server; the message names the extra",
    503: "busy (the model's queue is full: retry after Retry-After) or still starting",
}


def error_responses(*codes: int, model: type[BaseModel] = ErrorPublic) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status it may answer with, in the protocol's error shape.

    >>> sorted(error_responses(401, 404))
    [401, 404]
    """
    return {code: {"model": model, "description": ERROR_MEANINGS[code]} for code in codes}


def json_error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``error_responses`` for a route whose answer is not JSON (Markdown, a PNG): FastAPI would
    document its errors in the answer's media type; they are JSON (ErrorPublic) all the same."""
    schema = {"$ref": f"#/components/schemas/{ErrorPublic.__name__}"}
    return {code: {"description": ERROR_MEANINGS[code], "content": {"application/json": {"schema": schema}}}
            for code in codes}
