"""schemathesis against GET /openapi.json: every operation, with data the description allows and data it forbids.

Checks on every response: no 5xx, the documented schema and content type; and a request refused
with a 4xx writes nothing (both tables compared before and after). The schema is loaded from the
running app's /openapi.json; each operation's cases are drawn with hypothesis directly (schemathesis'
own pytest plugin relies on pytest internals that pytest 9 removed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.embedded import fresh_stack
from tests.reliability.sizes import scaled
from tests.reliability.test_hostile_api import snapshot
from tests.reliability.world import aws_clients, build_fleet
from tests.reliability.wsgi import wsgi_app

OPERATIONS = [
    "GET /openapi.json",
    "GET /decisions",
    "GET /decisions/{decision_id}",
    "GET /targets",
    "GET /targets/{target_id}",
    "PUT /targets/{target_id}",
    "PATCH /targets/{target_id}",
    "DELETE /targets/{target_id}",
    "POST /targets/{target_id}/evaluate",
    "POST /backtest",
    "GET /console",
    "GET /console/{asset}",
]
# Served but not described: the description itself and the console page's HTML and assets (not JSON).
UNDESCRIBED = {"GET /openapi.json", "GET /console", "GET /console/{asset}"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def api_schema(aws: EmbeddedAws) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    fresh_stack(aws)
    build_fleet(aws_clients(), asgs=1, services=1)
    with Client(app, stage_name="rel", project_dir=str(Path(__file__).resolve().parents[2])) as client:
        yield schemathesis.openapi.from_wsgi("/openapi.json", wsgi_app(client))


def test_the_description_lists_every_route(api_schema: Any) -> None:
    from app import app

    described = sorted(op.ok().label for op in api_schema.get_all_operations())
    routed = sorted(f"{method} {path}" for path, methods in app.routes.items() for method in methods)
    assert routed == sorted(OPERATIONS)
    assert described == [op for op in routed if op not in UNDESCRIBED]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
@pytest.mark.parametrize("label", [op for op in OPERATIONS if op not in UNDESCRIBED])
def test_the_api_as_described_never_fails_and_refuses_without_writing(
    api_schema: Any, label: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)

    @settings(
        max_examples=scaled(12, 150),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode) | st.nothing())
    def run(case: Any) -> None:
        before = snapshot()
        response = case.call()
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            assert snapshot() == before, (
                f"{case.method} {case.formatted_path} refused ({response.status_code}) but wrote"
            )

    run()
