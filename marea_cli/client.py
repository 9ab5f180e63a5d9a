"""One HTTP call to Marea's API: JSON in and out, the API's errors kept as it sent them."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marea_cli.endpoints import Endpoint
from marea_cli.signing import signed_headers

TIMEOUT_S = 60  # POST /backtest may replay days of minutes


class ApiError(Exception):
    """The API answered with an error: its status, code and message, as it sent them."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        body: Any = None,
        raw: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.body, self.raw = status, code, message, body, raw
        self.headers = headers or {}  # as they came, for the console's forwarder to relay


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer to relay (the console's forwarder) or report, not to follow: a followed request would
    go out again, to wherever Location says, with a signature made for the first URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class Unreachable(Exception):
    """The API did not answer (refused, timed out, unknown host)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # decoded JSON (or text)
    headers: dict[str, str]
    raw: bytes  # as it came, for the console's forwarder


@dataclass(frozen=True)
class ApiClient:
    endpoint: Endpoint

    def call(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """The decoded JSON body of a 2xx answer; ApiError for any other, Unreachable when none came."""
        data = b"" if body is None else json.dumps(body).encode()
        response = self.send(method, path, query=query, data=data, content_type=content_type)
        return response.body

    def send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        data: bytes = b"",
        content_type: str,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Response:
        """One request; ``extra_headers`` (e.g. If-Match) go out as given, signed with the rest."""
        url = self.endpoint.join(path)
        if query:
            # RFC 3986 (a space is %20, not +): the form SigV4 signs and API Gateway checks.
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        headers = {"Accept": "application/json", **(extra_headers or {})}
        if data:
            headers["Content-Type"] = content_type
        if self.endpoint.signed:
            headers = signed_headers(method, url, headers, data, self.endpoint.region)
        request = urllib.request.Request(url, data=data or None, headers=headers, method=method)  # noqa: S310 - http(s) only (endpoints.resolve)
        try:
            with _OPENER.open(request, timeout=TIMEOUT_S) as answer:
                raw = answer.read()
                return Response(answer.status, _decoded(raw), dict(answer.headers.items()), raw)
        except urllib.error.HTTPError as exc:
            raise _api_error(exc.code, exc.read(), dict(exc.headers.items())) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach {self.endpoint.url}: {reason}") from None


def _decoded(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _api_error(status: int, raw: bytes, headers: dict[str, str]) -> ApiError:
    body = _decoded(raw)
    if isinstance(body, dict) and "message" in body:
        code = str(body.get("code") or body.get("Code") or "ERROR")
        return ApiError(status, code, str(body["message"]), body, raw, headers)
    # API Gateway's own refusals ({"message": ...} above), a redirect or a proxy's HTML: kept short.
    location = next((value for name, value in headers.items() if name.lower() == "location"), None)
    message = f"redirected to {location}" if location else str(body)[:300] if body else f"HTTP {status}"
    return ApiError(status, "HTTP_ERROR", message, body, raw, headers)
