"""Errors on FHIR routes as an OperationOutcome, the shape FHIR clients read errors in."""

from __future__ import annotations

from typing import Any

#: HTTP status -> the FHIR issue type (http://hl7.org/fhir/issue-type)
ISSUE_TYPES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 409: "conflict",
               413: "too-costly", 422: "invalid", 429: "throttled", 503: "transient"}


def operation_outcome(status: int, message: str, request_id: str) -> tuple[int, dict[str, Any]]:
    """(status, OperationOutcome) for an error; the request id travels as the resource id.

    >>> operation_outcome(404, "unknown model 'x'", "abc")[1]["issue"][0]["code"]
    'not-found'
    """
    return status, {
        "resourceType": "OperationOutcome",
        "id": request_id,
        "issue": [{"severity": "fatal" if status >= 500 else "error",
                   "code": ISSUE_TYPES.get(status, "exception"), "diagnostics": message}],
    }
