"""One table from error class to HTTP status; anything unexpected is a 500 without detail."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medmaas.api.middleware import new_request_id
from medmaas.exceptions import (
    AuthenticationError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    MedmaasError,
    MissingDependencyError,
    NotFoundError,
    OverloadedError,
    PayloadTooLargeError,
    PermissionDeniedError,
)

logger = logging.getLogger(__name__)

STATUS: list[tuple[type[MedmaasError], int]] = [
    (PayloadTooLargeError, 413),
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (OverloadedError, 503),
    (MissingDependencyError, 501),
    (IntegrityError, 500),
]


def status_for(exc: MedmaasError) -> int:
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def error_body(message: str, request_id: str) -> dict[str, str]:
    return {"error": message, "request_id": request_id}


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or new_request_id()


def describe(exc: MedmaasError, request_id: str) -> tuple[int, dict[str, str], dict[str, str]]:
    """Status, JSON body and headers for a medmaas error: the one mapping both the FastAPI
    routes and the data plane answer with."""
    code = status_for(exc)
    if code >= 500:
        logger.error("request %s failed: %s", request_id, type(exc).__name__)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else {}
    if isinstance(exc, OverloadedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    message = str(exc) if code < 500 or isinstance(exc, IntegrityError | OverloadedError) else "internal error"
    return code, error_body(message, request_id), headers


def unexpected_error(exc: BaseException, request_id: str) -> tuple[int, dict[str, str]]:
    # The type only: messages of library errors can quote request data.
    logger.error("request %s failed unexpectedly: %s", request_id, type(exc).__name__, exc_info=False)
    return 500, error_body("internal error", request_id)


def install(app: FastAPI) -> None:
    @app.exception_handler(MedmaasError)
    async def medmaas_error(request: Request, exc: MedmaasError) -> JSONResponse:
        code, body, headers = describe(exc, _request_id(request))
        return JSONResponse(body, status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse(error_body("; ".join(problems) or "invalid request", _request_id(request)),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and message == "There was an error parsing the body":
            # FastAPI's words for a body it cannot decode, e.g. bytes that are not UTF-8
            message = "the request body could not be read: send JSON encoded as UTF-8"
        return JSONResponse(error_body(message, _request_id(request)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        code, body = unexpected_error(exc, _request_id(request))
        return JSONResponse(body, status_code=code)
