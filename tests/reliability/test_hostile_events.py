"""Hostile events: every event model and every handler, fed random and bent-out-of-shape events.

Whatever arrives, a model parses it or raises MalformedEventError (never anything else), and a
handler returns (never raises: a raise makes Lambda retry the poison event for hours); an event it
rejects writes nothing and changes no capacity.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.errors import MalformedEventError
from chalicelib.models.events import (
    AlarmStateChangeEvent,
    EvaluationMessage,
    ScheduledTickEvent,
    TaskStateChangeEvent,
    parse_event,
)
from chalicelib.triggers import breaching_datapoints
from marea_local.embedded_aws import EmbeddedAws
from marea_local.local_fargate import task_stopped_event
from tests.reliability.delivery import Delivery, invoke
from tests.reliability.embedded import fresh_stack
from tests.reliability.hostile import JSON, hostile
from tests.reliability.scenarios import ALARM, MESSAGE, TASK, TICK
from tests.reliability.sizes import scaled
from tests.reliability.world import (
    ACCOUNT,
    Fleet,
    alarm_event,
    aws_clients,
    build_fleet,
    capacity,
    sqs_event,
    tick_event,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TASK_ARN = f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/marea-rel-kops-runner/0123456789abcdef"


def stopped_task_event() -> dict[str, Any]:
    task = {
        "taskArn": TASK_ARN,
        "clusterArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/marea-rel-kops-runner",
        "group": "marea-kops-runner",
        "startedBy": "01KJ0000000000000000000000",
    }
    return task_stopped_event(task, 0, "Essential container in task exited", NOW, ACCOUNT)


def evaluation_message() -> dict[str, Any]:
    return {"target_id": "asg-0", "trigger_type": "schedule", "event_id": "tick-1", "at": "2026-03-01T12:00:00Z"}


SAMPLES: list[tuple[Any, dict[str, Any]]] = [
    (AlarmStateChangeEvent, alarm_event("web-0", NOW, 95)),
    (ScheduledTickEvent, tick_event(NOW)),
    (TaskStateChangeEvent, stopped_task_event()),
    (EvaluationMessage, evaluation_message()),
]


def parsed_or_refusal(model: Any, raw: Any) -> Any:
    """The parsed event, or the MalformedEventError's message (any other exception escapes)."""
    try:
        return parse_event(model, raw)
    except MalformedEventError as exc:
        return exc.message


@pytest.mark.parametrize(("model", "sample"), SAMPLES, ids=lambda v: getattr(v, "__name__", ""))
def test_every_event_model_parses_or_rejects_cleanly(model: Any, sample: dict[str, Any]) -> None:
    @settings(max_examples=scaled(150, 2000), deadline=None)
    @given(event=hostile(sample))
    def check(event: Any) -> None:
        for raw in (event, json.dumps(event, allow_nan=True)):
            if model is not EvaluationMessage and isinstance(raw, str):
                continue  # EventBridge events arrive decoded; the SQS message body arrives as text
            parsed = parsed_or_refusal(model, raw)
            if isinstance(parsed, str):
                assert parsed.startswith(f"malformed {model.__name__} event")
            elif isinstance(parsed, AlarmStateChangeEvent):  # what the alarm handler derives from it
                parsed.to_observation()
                breaching_datapoints(parsed)

    check()


@pytest.mark.parametrize("body", [b"", b"\xff\xfe\x00", b"[" * 5000, b"{" * 100_000, "é".encode("utf-16")])
def test_the_fanout_message_parser_rejects_bytes_that_are_not_json(body: bytes) -> None:
    with pytest.raises(MalformedEventError):
        parse_event(EvaluationMessage, body)


# ---- through the handlers, against the embedded AWS ------------------------------------------


@pytest.fixture
def world(aws: EmbeddedAws) -> tuple[Fleet, dict[str, Any]]:
    fresh_stack(aws)
    clients = aws_clients()
    return build_fleet(clients, asgs=1, services=1), clients


def state(fleet: Fleet, clients: dict[str, Any]) -> tuple[int, dict[str, int]]:
    from chalicelib import wiring

    table = wiring.decision_log()._table
    decisions = clients["dynamodb"].scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]
    return decisions, {t: capacity(clients, t) for t in fleet.target_ids}


def rejected(result: Any) -> bool:
    results = result if isinstance(result, list) else [result]
    return all(isinstance(r, dict) and r.get("rejected") is True for r in results)


HANDLER_SAMPLES: list[tuple[str, st.SearchStrategy[Any], int]] = [
    (ALARM, hostile(alarm_event("web-0", datetime.now(UTC), 95)), 40),
    (TICK, hostile(tick_event(datetime.now(UTC))), 25),
    (TASK, hostile(stopped_task_event()), 30),
    (
        MESSAGE,
        st.lists(hostile(evaluation_message()).map(json.dumps) | st.text(max_size=60), min_size=1, max_size=3).map(
            sqs_event
        ),
        30,
    ),
]


@pytest.mark.parametrize(
    ("handler", "events", "examples"), HANDLER_SAMPLES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_handler_returns_on_hostile_events_and_a_rejection_writes_nothing(
    world: tuple[Fleet, dict[str, Any]], handler: str, events: st.SearchStrategy[Any], examples: int
) -> None:
    fleet, clients = world

    @settings(
        max_examples=scaled(examples, examples * 10),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(event=events)
    def check(event: Any) -> None:
        before = state(fleet, clients)
        result = invoke(Delivery("hostile", handler, event))  # raises on an unhandled exception
        assert isinstance(result, dict | list)
        if rejected(result):
            assert state(fleet, clients) == before

    check()


def test_random_json_of_any_shape_is_rejected_by_every_handler(world: tuple[Fleet, dict[str, Any]]) -> None:
    fleet, clients = world

    @settings(max_examples=scaled(30, 300), deadline=None, suppress_health_check=list(HealthCheck))
    @given(handler=st.sampled_from([ALARM, TICK, TASK]), event=JSON)
    def check(handler: str, event: Any) -> None:
        before = state(fleet, clients)
        result = invoke(Delivery("junk", handler, event))
        assert rejected(result) or "ignored" in result
        assert state(fleet, clients) == before

    check()


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z"])
def test_an_event_from_a_time_no_decision_can_carry_is_rejected_not_retried_forever(
    world: tuple[Fleet, dict[str, Any]], when: str
) -> None:
    """Regression: such times crashed the handlers (OverflowError in the decision id or the retention time)."""
    fleet, clients = world
    before = state(fleet, clients)
    for handler, event in (
        (ALARM, alarm_event("web-0", NOW, 95)),
        (TICK, tick_event(NOW)),
        (TASK, stopped_task_event()),
    ):
        result = invoke(Delivery("ancient", handler, {**event, "time": when}))
        assert rejected(result), result
        assert "must be between 1970 and 9000" in result["message"]
    message = json.dumps({**evaluation_message(), "at": when})
    assert rejected(invoke(Delivery("ancient", MESSAGE, sqs_event([message]))))
    assert state(fleet, clients) == before
