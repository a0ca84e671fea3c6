"""The errors medmaas raises, one tree with one root.

    MedmaasError
    ├── InvalidInputError (ValueError)        bad data or request: says what must hold and what came
    │   ├── DataError                         a training table that cannot be used as given
    │   └── SchemaError                       a prediction request that does not fit the model's inputs
    ├── PayloadTooLargeError (ValueError)     body, rows or file beyond the configured limits
    ├── NotFoundError (LookupError)           no such model, version, key or job
    ├── ConflictError                         the request contradicts stored state (duplicate name, ...)
    ├── AuthenticationError                   no credentials, or credentials that are unknown/revoked
    ├── PermissionDeniedError                 a known principal whose role does not allow the action
    ├── OverloadedError                       a full queue; retry later
    │   ├── AuditUnavailableError             the audit log cannot be written; result withheld
    │   └── RateLimitedError                  this API key sent more than its rate; retry later
    ├── IntegrityError                        stored state failed a check (hash chain, artifact hash)
    └── MissingDependencyError (ImportError)  an optional extra is not installed

The API maps each class to one status code (``medmaas.api.errors``); the CLI prints
``Error: <message>`` and exits 1. Messages name the field, row or file at fault.
"""

from __future__ import annotations


class MedmaasError(Exception):
    """Root of every error medmaas raises on purpose."""


class InvalidInputError(MedmaasError, ValueError):
    """Input that cannot be used as given; the message says what must hold and what came."""


class DataError(InvalidInputError):
    """A training table that cannot be used: missing target, one class, too few rows, ..."""


class SchemaError(InvalidInputError):
    """A prediction request whose fields do not match the model's input schema."""


class PayloadTooLargeError(MedmaasError, ValueError):
    """A request body, row count or file beyond the configured limits."""


class NotFoundError(MedmaasError, LookupError):
    """No such model, version, alias, key or job."""


class ConflictError(MedmaasError):
    """The request contradicts stored state."""


class AuthenticationError(MedmaasError):
    """Missing, unknown, revoked or expired credentials."""


class PermissionDeniedError(MedmaasError):
    """The caller is known but their role does not allow this action."""


class OverloadedError(MedmaasError):
    """A bounded queue is full; the caller should retry after a short wait."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuditUnavailableError(OverloadedError):
    """The audit event could not be made durable, so the result is withheld (fail closed)."""

    def __init__(self, message: str, retry_after_s: float = 5.0) -> None:
        super().__init__(message, retry_after_s)


class RateLimitedError(OverloadedError):
    """One API key sent more requests than its rate limit allows (HTTP 429, Retry-After)."""


class IntegrityError(MedmaasError):
    """Stored state failed a check: a broken audit chain, an artifact whose hash changed."""


class MissingDependencyError(MedmaasError, ImportError):
    """An optional dependency is needed; the message says which extra installs it."""
