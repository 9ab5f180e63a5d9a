"""MareaError → HTTP, here and nowhere else. Bodies are always {"code": ..., "message": ...}."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from chalice.app import Response

from chalicelib.errors import MareaError
from chalicelib.observability import logger

if TYPE_CHECKING:  # pydantic loads on a route's first call, not at cold start
    from pydantic import ValidationError

View = TypeVar("View", bound=Callable[..., Any])
_MAX_FIELD_ERRORS = 10


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response(
        body={"code": code, "message": message, **extra},
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def validation_response(exc: ValidationError, prefix: str = "") -> Response:
    """400 naming each offending field: ``policies.0.target_value: Input should be greater than 0``."""
    fields = []
    for error in exc.errors(include_url=False)[:_MAX_FIELD_ERRORS]:
        location = ".".join(str(part) for part in error["loc"]) or "body"
        fields.append({"field": f"{prefix}{location}", "message": error["msg"]})
    message = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return error_response(400, "VALIDATION_FAILED", message, errors=fields)


def field_errors_response(message: str, fields: list[tuple[str, str]]) -> Response:
    """400 with a message and one entry per field, as ``validation_response`` answers."""
    errors = [{"field": field, "message": text} for field, text in fields]
    return error_response(400, "VALIDATION_FAILED", message, errors=errors)


def json_errors(view: View) -> View:
    """Chalice catches view exceptions before middleware sees them, so each view is wrapped."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return _typed(view(*args, **kwargs))
        except MareaError as exc:
            if exc.http_status >= 500:
                logger().exception("request failed", extra={"code": exc.code})
            return error_response(exc.http_status, exc.code, exc.message)
        except Exception as exc:
            from pydantic import ValidationError  # loaded by the view already when it raised one

            if isinstance(exc, ValidationError):
                return validation_response(exc)
            raise

    return wrapper  # type: ignore[return-value]


# Chalice's own error codes (chalice.app: error_response, ChaliceViewError subclasses) in Marea's words.
_CHALICE_CODES = {
    "BadRequest": "BAD_REQUEST",
    "BadRequestError": "BAD_REQUEST",
    "UnauthorizedError": "UNAUTHORIZED",
    "ForbiddenError": "FORBIDDEN",
    "NotFoundError": "NOT_FOUND",
    "MethodNotAllowedError": "METHOD_NOT_ALLOWED",
    "RequestTimeoutError": "REQUEST_TIMEOUT",
    "ConflictError": "CONFLICT",
    "UnprocessableEntityError": "UNPROCESSABLE",
    "UnsupportedMediaType": "UNSUPPORTED_MEDIA_TYPE",
    "TooManyRequestsError": "TOO_MANY_REQUESTS",
    "ChaliceViewError": "INTERNAL_ERROR",
    "InternalServerError": "INTERNAL_ERROR",
}


def chalice_errors_in_marea_shape(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """HTTP middleware: the errors Chalice answers itself ({"Code", "Message"}: 415 before a view runs,
    405, 500 for an exception no view handled, a ChaliceViewError) get Marea's {"code", "message"}."""
    response = get_response(request)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = _CHALICE_CODES.get(str(body["Code"]), "INTERNAL_ERROR" if response.status_code >= 500 else "ERROR")
        response.body = {"code": code, "message": str(body["Message"])}
        response.headers["Content-Type"] = "application/json"
    return response


def _typed(result: Any) -> Response:
    """Name the JSON type: API Gateway assumes it when a response names none, `chalice local` sends none."""
    if not isinstance(result, Response):
        return Response(body=result, status_code=200, headers={"Content-Type": "application/json"})
    if result.status_code != 204 and not any(name.lower() == "content-type" for name in result.headers):
        result.headers["Content-Type"] = "application/json"
    return result
