"""The application factory: one process serving REST (and later FHIR, V2 and the dashboard)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from medmaas import __version__
from medmaas.api import errors
from medmaas.api.middleware import ServiceMiddleware
from medmaas.api.routes import admin, health, models, predict
from medmaas.api.state import AppState, ModelCache
from medmaas.settings import Settings

logger = logging.getLogger(__name__)


def build_state(settings: Settings) -> AppState:
    from medmaas.audit import AuditLog
    from medmaas.registry import Registry
    from medmaas.security.keys import KeyStore

    registry = Registry.open(settings)
    return AppState(settings=settings, registry=registry,
                    keys=KeyStore(registry, settings.resolved_secret()),
                    audit=AuditLog(registry), models=ModelCache(registry))


def create_app(settings: Settings | None = None, *, state: AppState | None = None,
               on_startup: Any = None) -> Any:
    """The ASGI app. ``on_startup(state)`` runs after the registry is open (the CLI uses it to
    start building built-in models in the background)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app_state = state or build_state(settings)
        app.state.medmaas = app_state
        app_state.ready = True
        if on_startup is not None:
            on_startup(app_state)
        yield
        app_state.ready = False

    app = FastAPI(
        title="medmaas",
        version=__version__,
        description="Medical Model-as-a-Service: validated, explainable models behind an audited API. "
                    "Authenticate with `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
    )
    errors.install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"])
    for router in (health.router, models.router, predict.router, admin.router):
        app.include_router(router)
    app.state.settings = settings
    return ServiceMiddleware(app, max_body_bytes=settings.max_body_bytes,
                             tls=settings.tls_certfile is not None)
