"""Every error the app answers has Marea's shape {"code", "message"}, including those Chalice itself answers.

Chalice answers some requests before (or instead of) a view: an unsupported Content-Type (415), a
method the route does not have (405), an exception no view handled (500), a ChaliceViewError raised
below a view, and an unknown request (500). API Gateway's own answers (a route that does not exist,
a missing signature: 403) come from the gateway, not the app: see README "HTTP API".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.world import asg_target

ERROR_KEYS = {"code", "message"}


def assert_marea_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    body: dict[str, Any] = json.loads(response.body)
    assert set(body) >= ERROR_KEYS, body
    assert not {"Code", "Message"} & set(body), body
    assert (body["code"], isinstance(body["message"], str)) == (code, True), body
    assert body["message"]
    assert response.headers["Content-Type"].startswith("application/json")
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/targets/web"), ("POST", "/backtest"), ("PATCH", "/targets/web")],
)
@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_an_unsupported_content_type_is_a_415_in_marea_shape(
    client: Any, method: str, path: str, content_type: str
) -> None:
    response = client.http.request(
        method, path, headers={"Content-Type": content_type}, body=json.dumps(asg_target()).encode()
    )
    body = assert_marea_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert content_type in body["message"]
    assert client.http.get("/targets/web").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/targets"),
        ("DELETE", "/decisions"),
        ("PUT", "/decisions/01KDVDNA000000000000000000"),
        ("GET", "/backtest"),
        ("GET", "/targets/web/evaluate"),
        ("POST", "/openapi.json"),
    ],
)
def test_a_method_the_route_does_not_have_is_a_405_in_marea_shape(client: Any, method: str, path: str) -> None:
    response = client.http.request(method, path, headers={"Content-Type": "application/json"}, body=b"{}")
    body = assert_marea_error(response, 405, "METHOD_NOT_ALLOWED")
    assert method in body["message"]
    assert response.headers["Allow"]


def test_an_exception_no_view_handled_is_a_500_in_marea_shape_without_details(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.store.targets import TargetRegistry

    def broken(self: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(TargetRegistry, "iter_all", broken)
    body = assert_marea_error(client.http.get("/targets"), 500, "INTERNAL_ERROR")
    assert "secret" not in body["message"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        ("BadRequestError", 400, "BAD_REQUEST"),
        ("NotFoundError", 404, "NOT_FOUND"),
        ("ConflictError", 409, "CONFLICT"),
        ("TooManyRequestsError", 429, "TOO_MANY_REQUESTS"),
        ("ChaliceViewError", 500, "INTERNAL_ERROR"),
    ],
)
def test_a_chalice_view_error_raised_below_a_view_is_in_marea_shape(
    client: Any, monkeypatch: pytest.MonkeyPatch, error: str, status: int, code: str
) -> None:
    import chalice

    from chalicelib.store.targets import TargetRegistry

    def raising(self: Any) -> Any:
        raise getattr(chalice, error)("said by chalice")

    monkeypatch.setattr(TargetRegistry, "iter_all", raising)
    body = assert_marea_error(client.http.get("/targets"), status, code)
    assert body["message"] == "said by chalice"


def test_a_request_chalice_cannot_route_is_a_500_in_marea_shape() -> None:
    """An event without a resource path reaching the API handler: Chalice's own 'Unknown request.'."""
    from app import app

    response = app({"requestContext": {}, "headers": {}}, None)

    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"code": "INTERNAL_ERROR", "message": "Unknown request."}


def test_marea_errors_keep_their_shape_and_extra_fields(client: Any) -> None:
    response = client.http.put("/targets/web", headers={"Content-Type": "application/json"}, body=b'{"kind": "asg"}')
    body = assert_marea_error(response, 400, "VALIDATION_FAILED")
    assert {e["field"] for e in body["errors"]} >= {"asg.asg_name", "asg.min", "asg.max"}
