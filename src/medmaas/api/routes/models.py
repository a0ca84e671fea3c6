"""The catalog: models, versions, cards, plots, stages and aliases."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, PlainTextResponse

from medmaas.api.deps import State, allowed
from medmaas.api.schemas import (
    AliasRequest,
    JobPublic,
    ModelPublic,
    ModelsPublic,
    PromoteRequest,
    StageEventPublic,
    VersionDetail,
    VersionPublic,
    VersionsPublic,
    error_responses,
    json_error_responses,
)
from medmaas.audit import AuditEvent
from medmaas.exceptions import NotFoundError
from medmaas.registry import VersionInfo
from medmaas.registry.refs import MAX_VERSION, parse_ref
from medmaas.security.keys import Principal

# 409: a promotion or alias that conflicts with the versions' stages.
router = APIRouter(prefix="/v1/models", tags=["models"], responses=error_responses(400, 401, 403, 404, 409, 413, 422, 429))
PLOT_NAME = re.compile(r"^[a-z0-9_-]{1,40}\.png$")


def version_public(v: VersionInfo, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": v.model_name, "version": v.version, "kind": v.kind, "task": v.task, "stage": v.stage,
        "aliases": list(v.aliases), "bundle_sha256": v.bundle_sha256, "created_at": v.created_at,
        "created_by": v.created_by, "metrics": v.metrics,
        "headline": None if v.headline is None else {"name": v.headline.name, "value": v.headline.value,
                                                     "ci": v.headline.ci},
    }
    if detail:
        out["spec"] = v.spec
        out["card"] = v.card
    return out


@router.get("", response_model=ModelsPublic, summary="list models, and built-in models still building")
def list_models(state: State, principal: Principal = allowed("models:read")) -> dict[str, Any]:
    models = state.registry.list_models(project=principal.project)
    jobs = [j for j in state.registry.list_jobs(project=principal.project) if j.status in ("queued", "running")]
    return {
        "models": [ModelPublic.model_validate(m, from_attributes=True) for m in models],
        "building": [JobPublic.model_validate(j, from_attributes=True) for j in jobs],
    }


@router.get("/{name}", response_model=ModelPublic)
def show_model(name: str, state: State, principal: Principal = allowed("models:read")) -> Any:
    return ModelPublic.model_validate(state.registry.get_model(name, project=principal.project),
                                      from_attributes=True)


@router.get("/{name}/versions", response_model=VersionsPublic)
def list_versions(name: str, state: State, principal: Principal = allowed("models:read")) -> dict[str, Any]:
    versions = state.registry.list_versions(name, project=principal.project)
    return {"versions": [version_public(v) for v in versions]}


@router.get("/{name}/versions/{ref}", response_model=VersionDetail,
            summary="one version by number, stage or alias, with spec and model card")
def show_version(name: str, ref: str, state: State, principal: Principal = allowed("models:read")) -> dict[str, Any]:
    return version_public(state.registry.resolve(name, parse_ref(ref), project=principal.project), detail=True)


_FILE_ERRORS = json_error_responses(400, 401, 403, 404, 409, 413, 422, 429)


@router.get("/{name}/versions/{ref}/card.md", response_class=PlainTextResponse, responses=_FILE_ERRORS,
            summary="the model card as Markdown")
def card_markdown(name: str, ref: str, state: State, principal: Principal = allowed("models:read")) -> str:
    info = state.registry.resolve(name, parse_ref(ref), project=principal.project)
    return (state.registry.bundle_path(info) / "card.md").read_text()


@router.get("/{name}/versions/{ref}/plots/{plot}", response_class=FileResponse, summary="a plot of the model card",
            responses={200: {"content": {"image/png": {}}, "description": "the plot"}, **_FILE_ERRORS})
def plot(name: str, ref: str, plot: str, state: State, principal: Principal = allowed("models:read")) -> FileResponse:
    if not PLOT_NAME.match(plot):
        raise NotFoundError(f"no plot named {plot!r}")
    info = state.registry.resolve(name, parse_ref(ref), project=principal.project)
    path = state.registry.bundle_path(info) / "plots" / plot
    if not path.is_file():
        raise NotFoundError(f"model '{name}' version {info.version} has no plot {plot!r}")
    return FileResponse(path, media_type="image/png")


@router.get("/{name}/history", response_model=list[StageEventPublic],
            summary="which version served when, and who decided")
def history(name: str, state: State, principal: Principal = allowed("models:read")) -> list[Any]:
    return [StageEventPublic.model_validate(e, from_attributes=True)
            for e in state.registry.stage_history(name, project=principal.project)]


@router.post("/{name}/versions/{version}/promote", response_model=VersionPublic)
def promote(name: str, version: Annotated[int, Path(ge=1, le=MAX_VERSION)], body: PromoteRequest, request: Request, state: State,
            principal: Principal = allowed("models:promote")) -> dict[str, Any]:
    # The change and its audit event commit together, whenever the process dies.
    info = state.registry.promote(name, version, body.stage, actor=principal.key_id, reason=body.reason,
                                  project=principal.project, record=state.audit.recorder(lambda _: AuditEvent(
                                      actor=principal.key_id, role=principal.role, action="model.promote",
                                      project=principal.project, resource=name, version=version, outcome="ok",
                                      detail={"stage": body.stage})))
    state.models.invalidate(principal.project, name)
    return version_public(info)


@router.put("/{name}/aliases/{alias}", response_model=VersionPublic)
def set_alias(name: str, alias: str, body: AliasRequest, state: State,
              principal: Principal = allowed("models:promote")) -> dict[str, Any]:
    state.registry.set_alias(name, alias, body.version, actor=principal.key_id, project=principal.project,
                             record=state.audit.recorder(lambda _: AuditEvent(
                                 actor=principal.key_id, role=principal.role, action="model.alias",
                                 project=principal.project, resource=name, version=body.version, outcome="ok",
                                 detail={"alias": alias})))
    state.models.invalidate(principal.project, name)
    return version_public(state.registry.resolve(name, body.version, project=principal.project))
