"""One small error tree.

Errors are translated to HTTP in ``chalicelib.api`` only; everything else raises them.
"""

from __future__ import annotations


class MareaError(Exception):
    """Base of every error Marea raises on purpose. ``code`` is machine-readable."""

    code = "MAREA_ERROR"
    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(MareaError):
    code = "BAD_REQUEST"
    http_status = 400


class ValidationFailedError(BadRequestError):
    code = "VALIDATION_FAILED"


class NotFoundError(MareaError):
    code = "NOT_FOUND"
    http_status = 404


class ResourceNotAllowedError(MareaError):
    """A target names a resource outside the stage's allow-list (MAREA_ALLOWED_RESOURCES)."""

    code = "RESOURCE_NOT_ALLOWED"
    http_status = 403


class ConflictError(MareaError):
    code = "CONFLICT"
    http_status = 409


class PreconditionFailedError(MareaError):
    """The request's If-Match names a version the target no longer has (or a target that does not exist)."""

    code = "PRECONDITION_FAILED"
    http_status = 412


class UnprocessableError(MareaError):
    """A valid request Marea cannot carry out with what it found (e.g. a policy a backtest cannot replay)."""

    code = "UNPROCESSABLE"
    http_status = 422


class NoDataError(UnprocessableError):
    """The metric a request needs has no datapoints in the window asked for."""

    code = "NO_DATA"


class MalformedEventError(MareaError):
    """An event that does not match its model: logged with its id and rejected."""

    code = "MALFORMED_EVENT"
    http_status = 400


class ActuationError(MareaError):
    """The cloud API refused or failed a capacity change."""

    code = "ACTUATION_FAILED"
    http_status = 502
