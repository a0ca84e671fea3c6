"""Request and response bodies (ModelPublic, ModelsPublic, ...). Unknown fields are refused."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    version: int = Field(ge=1)


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
