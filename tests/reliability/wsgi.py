"""A WSGI face on the Chalice app (through chalice.test.Client's local API Gateway), for schemathesis.

schemathesis drives WSGI apps in process; Marea's API is a Chalice app that API Gateway fronts.
This adapter hands each request to the same LocalGateway `chalice local` and chalice.test use, so
routing, path parameters, content types and the views are Marea's, not a reimplementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote


def wsgi_app(client: Any) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """``client``: a chalice.test.Client over Marea's app."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = quote(environ.get("PATH_INFO", "/"), safe="/")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        response = client.http.request(environ["REQUEST_METHOD"], path, headers=headers, body=body)
        status = HTTPStatus(response.status_code)
        start_response(f"{status.value} {status.phrase}", [(k, str(v)) for k, v in response.headers.items()])
        return [response.body if isinstance(response.body, bytes) else str(response.body).encode()]

    return application
