"""Liveness and readiness: the only routes without credentials."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from medmaas import __version__
from medmaas.api.deps import State

router = APIRouter(tags=["health"])


class LivePublic(BaseModel):
    status: Literal["alive"]


class ReadyPublic(BaseModel):
    status: Literal["ready", "starting"]
    version: str


@router.get("/livez", response_model=LivePublic, summary="the process is up")
def livez() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", response_model=ReadyPublic, summary="the registry is open and requests can be served",
            responses={503: {"model": ReadyPublic, "description": "still starting"}})
def readyz(state: State) -> JSONResponse:
    body = {"status": "ready" if state.ready else "starting", "version": __version__}
    return JSONResponse(body, status_code=200 if state.ready else 503)
