"""One table from error class to HTTP status; anything unexpected is a 500 without detail."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

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
    RateLimitedError,
)
from medmaas.fhir.outcome import operation_outcome

logger = logging.getLogger(__name__)

STATUS: list[tuple[type[MedmaasError], int]] = [
    (PayloadTooLargeError, 413),
    (InvalidInputError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (RateLimitedError, 429),
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


#: (status, message, request id) -> the (status, JSON body) a protocol answers an error with.
Formatter = Callable[[int, str, str], tuple[int, dict[str, Any]]]


def _rest_error(status: int, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
    return status, error_body(message, request_id)


def _v2_error(status: int, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
    # The Open Inference Protocol's error object is {"error": message}, and a request that does
    # not fit the model is a 400 there (KServe's InvalidInput); the request id is in X-Request-ID.
    return (400 if status == 422 else status), {"error": message}


#: Error shapes by path prefix (the path itself or anything under it): each protocol's clients
#: read errors in their own shape (a FHIR client expects an OperationOutcome). Any other path
#: gets ``_rest_error``.
ERROR_FORMATS: dict[str, Formatter] = {
    "/v2": _v2_error,
    "/fhir": operation_outcome,
}


#: Error media types that differ from application/json, by the path's first segment: a FHIR
#: client reads an OperationOutcome as a FHIR resource only when it is labelled as one.
ERROR_MEDIA_TYPES = {"/fhir": "application/fhir+json"}


def _prefix(path: str) -> str:
    return "/" + path.split("/", 2)[1] if path.startswith("/") else path


def error_media_type(path: str) -> str:
    """The content type of an error answered at ``path``.

    >>> error_media_type("/fhir/r4/RiskAssessment/$predict"), error_media_type("/v1/models")
    ('application/fhir+json', 'application/json')
    """
    return ERROR_MEDIA_TYPES.get(_prefix(path), "application/json")


def formatted(path: str, status: int, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
    """The status and body of an error answered at ``path``.

    >>> formatted("/v2/models/m/infer", 422, "bad shape", "id1")
    (400, {'error': 'bad shape'})
    """
    return ERROR_FORMATS.get(_prefix(path), _rest_error)(status, message, request_id)


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or new_request_id()


def describe(exc: MedmaasError, request_id: str, path: str = "") -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers for a medmaas error at ``path``: the one mapping both the
    FastAPI routes and the data plane answer with."""
    code = status_for(exc)
    if code >= 500:
        logger.error("request %s failed: %s", request_id, type(exc).__name__)
    headers = {"WWW-Authenticate": "Bearer"} if code == 401 else {}
    if isinstance(exc, OverloadedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    message = str(exc) if code < 500 or isinstance(exc, IntegrityError | OverloadedError) else "internal error"
    code, body = formatted(path, code, message, request_id)
    return code, body, headers


def unexpected_error(exc: BaseException, request_id: str, path: str = "") -> tuple[int, dict[str, Any]]:
    # The type only: messages of library errors can quote request data.
    logger.error("request %s failed unexpectedly: %s", request_id, type(exc).__name__, exc_info=False)
    return formatted(path, 500, "internal error", request_id)


def install(app: FastAPI) -> None:
    @app.exception_handler(MedmaasError)
    async def medmaas_error(request: Request, exc: MedmaasError) -> JSONResponse:
        code, body, headers = describe(exc, _request_id(request), request.url.path)
        return _error_response(request, code, body, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:10]:
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            problems.append(f"{where}: {err.get('msg')}")
        code, body = formatted(request.url.path, 422, "; ".join(problems) or "invalid request",
                               _request_id(request))
        return _error_response(request, code, body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and message == "There was an error parsing the body":
            # FastAPI's words for a body it cannot decode, e.g. bytes that are not UTF-8
            message = "the request body could not be read: send JSON encoded as UTF-8"
        code, body = formatted(request.url.path, exc.status_code, message, _request_id(request))
        return _error_response(request, code, body, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        code, body = unexpected_error(exc, _request_id(request), request.url.path)
        return _error_response(request, code, body)


def _error_response(request: Request, code: int, body: dict[str, Any],
                    headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=code, headers=headers, media_type=error_media_type(request.url.path))
