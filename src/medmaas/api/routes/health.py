"""Liveness and readiness: the only routes without credentials."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from medmaas import __version__
from medmaas.api.deps import State

router = APIRouter(tags=["health"])


@router.get("/livez", summary="the process is up")
def livez() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", summary="the registry is open and requests can be served")
def readyz(state: State) -> JSONResponse:
    body = {"status": "ready" if state.ready else "starting", "version": __version__}
    return JSONResponse(body, status_code=200 if state.ready else 503)
