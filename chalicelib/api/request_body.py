"""The JSON object of a request body, or a 400 that says what is wrong with it."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Request

from chalicelib.errors import BadRequestError

MAX_BODY_BYTES = 64 * 1024


def json_body(request: Request) -> dict[str, Any]:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequestError(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise BadRequestError(f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # a small body of nested brackets exhausts the parser's stack
        raise BadRequestError("body nests too deeply") from exc
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object")
    return body
