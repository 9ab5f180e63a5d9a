"""Hostile HTTP requests: every route with random and boundary paths, query strings and bodies.

No request gets a 500; every 4xx is Marea's JSON error ({"code", "message"}); a refused request
writes nothing (both tables compared before and after).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.embedded import fresh_stack
from tests.reliability.hostile import BOUNDARY_TEXT, JSON, hostile
from tests.reliability.sizes import scaled
from tests.reliability.world import asg_body, aws_clients, build_fleet

HEADERS = {"Content-Type": "application/json"}
PATH_TEXT = st.text(min_size=1, max_size=140) | BOUNDARY_TEXT.filter(bool) | st.just("asg-0")
QUERY_KEYS = st.sampled_from(["target", "since", "until", "outcome", "limit", "cursor"]) | st.text(max_size=10)
QUERY_VALUES = (
    st.text(max_size=60)
    | BOUNDARY_TEXT
    | st.integers().map(str)
    | st.sampled_from(["applied", "pending", "2026-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "asg-0", "500"])
)


def fuzz(short: int, full_size: int) -> settings:
    return settings(
        max_examples=scaled(short, full_size),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@pytest.fixture
def api(aws: EmbeddedAws) -> Iterator[Any]:
    from pathlib import Path

    from chalice.test import Client

    from app import app

    fresh_stack(aws)
    build_fleet(aws_clients(), asgs=1, services=0)
    with Client(app, stage_name="rel", project_dir=str(Path(__file__).resolve().parents[2])) as client:
        yield client


def snapshot() -> tuple[Any, ...]:
    """Every item of both tables (tiny here), to prove a refused request wrote nothing."""
    import boto3

    from chalicelib.settings import get_settings

    dynamodb, settings_ = boto3.client("dynamodb"), get_settings()
    return tuple(
        sorted(
            json.dumps(item, sort_keys=True) for item in dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
        )
        for table in (settings_.targets_table, settings_.decisions_table)
    )


def check(response: Any, before: tuple[Any, ...]) -> None:
    assert response.status_code < 500, response.body[:300]
    if response.status_code >= 400:
        body = json.loads(response.body)
        assert isinstance(body.get("code"), str), body
        assert isinstance(body.get("message"), str), body
        assert snapshot() == before


def test_list_decisions_with_any_query_string(api: Any) -> None:
    @fuzz(60, 600)
    @given(query=st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=5))
    def run(query: list[tuple[str, str]]) -> None:
        before = snapshot()
        check(api.http.get(f"/decisions?{urlencode(query)}" if query else "/decisions"), before)

    run()


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/decisions/{}"),
        ("GET", "/targets/{}"),
        ("DELETE", "/targets/{}"),
        ("PATCH", "/targets/{}"),
        ("POST", "/targets/{}/evaluate"),
    ],
)
def test_path_parameters_of_any_shape(api: Any, method: str, template: str) -> None:
    @fuzz(30, 300)
    @given(value=PATH_TEXT)
    def run(value: str) -> None:
        before = snapshot()
        response = api.http.request(method, template.format(quote(value, safe="")), headers=HEADERS)
        if method == "POST" and response.status_code == 200:
            return  # a manual evaluation of a registered target is a write by design
        if method == "DELETE" and response.status_code == 204:
            return
        check(response, before)

    run()


def test_put_target_with_any_body(api: Any) -> None:
    valid = asg_body("asg-0", "web-0")
    bodies = (
        hostile(valid).map(lambda doc: json.dumps(doc, allow_nan=True).encode())
        | JSON.map(lambda doc: json.dumps(doc, allow_nan=True).encode())
        | st.binary(max_size=200)
        | st.integers(1, 2000).map(lambda depth: b"[" * depth)
        | st.just(b'{"kind": "asg", "x": ' + b"[" * 3000 + b"]" * 3000 + b"}")
        | st.just(b" " * (64 * 1024 + 1))
    )

    @fuzz(80, 800)
    @given(target_id=PATH_TEXT, body=bodies)
    def run(target_id: str, body: bytes) -> None:
        before = snapshot()
        response = api.http.put(f"/targets/{quote(target_id, safe='')}", headers=HEADERS, body=body)
        if response.status_code not in (200, 201):
            check(response, before)

    run()


def test_patch_target_with_any_body(api: Any) -> None:
    """Merge patches of the registered target (or of any path) with any body: a refusal writes nothing."""
    valid = {"mode": "advise", "max": 6, "paused": True, "policies": asg_body("asg-0", "web-0")["policies"]}
    bodies = (
        hostile(valid).map(lambda doc: json.dumps(doc, allow_nan=True).encode())
        | JSON.map(lambda doc: json.dumps(doc, allow_nan=True).encode())
        | st.binary(max_size=200)
        | st.just(b" " * (64 * 1024 + 1))
    )

    @fuzz(60, 600)
    @given(target_id=st.just("asg-0") | PATH_TEXT, body=bodies)
    def run(target_id: str, body: bytes) -> None:
        before = snapshot()
        headers = {"Content-Type": "application/merge-patch+json"}
        response = api.http.patch(f"/targets/{quote(target_id, safe='')}", headers=headers, body=body)
        if response.status_code != 200:
            check(response, before)

    run()


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00Z",
        "since=0001-01-01T00:00:00%2B01:00",
        "until=9999-12-31T23:59:59Z",
        "cursor=eyJpZCI6IngifQ",  # {"id":"x"}: a key no index query returns
        "target=asg-0&cursor=eyJpZCI6IngiLCJsb2dfcGFydGl0aW9uIjoiQUxMIn0",  # a by_time key for a by_target query
    ],
)
def test_regression_boundary_queries_get_an_answer_not_a_500(api: Any, query: str) -> None:
    """Regression: times before 1970 overflowed the id bounds; foreign cursors reached DynamoDB."""
    response = api.http.get(f"/decisions?{query}")
    assert response.status_code in (200, 400), response.body
    if response.status_code == 400:
        assert "cursor" in json.loads(response.body)["message"]


def test_regression_a_deeply_nested_body_is_a_400_not_a_500(api: Any) -> None:
    before = snapshot()
    response = api.http.put("/targets/web", headers=HEADERS, body=b"[" * 5000)
    assert (response.status_code, json.loads(response.body)["code"]) == (400, "BAD_REQUEST")
    assert snapshot() == before
