"""The schedule tick: inline evaluation, SQS fan-out, duplicate ticks, racing evaluations."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import aws, wiring
from chalicelib.models.decisions import Trigger, TriggerType
from tests.integration.world import asg_desired, asg_target, make_asg, publish_cpu, register


def tick_event(event_id: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/marea-dev-on_schedule_tick"],
        "detail": {},
    }


def decisions(client: Any) -> list[dict[str, Any]]:
    return list(client.http.get("/decisions?limit=500").json_body["decisions"])


@pytest.fixture
def three_targets(client: Any, clients: dict[str, Any]) -> None:
    for name in ("a", "b", "c"):
        make_asg(clients, name=name, desired=2)
        register(client, name, asg_target(asg_name=name, paused=(name == "c")))
    publish_cpu(clients["cloudwatch"], "a", [95, 95, 95])


def test_a_tick_evaluates_every_unpaused_target_once(client: Any, clients: dict[str, Any], three_targets: None) -> None:
    result = client.lambda_.invoke("on_schedule_tick", tick_event()).payload
    assert (result["evaluated"], result["enqueued"]) == (2, 0)
    assert sorted(d["target_id"] for d in result["decisions"]) == ["a", "b"]
    recorded = decisions(client)
    assert sorted(d["target_id"] for d in recorded) == ["a", "b"]
    assert asg_desired(clients, "a") == 4  # ceil(2 x 95 / 50)
    assert asg_desired(clients, "c") == 2  # paused: untouched and not evaluated


def test_a_duplicated_tick_acts_once(client: Any, clients: dict[str, Any], three_targets: None) -> None:
    event = tick_event()
    calls: list[str] = []
    wiring.evaluator()  # build clients so the hook lands on the one Marea uses
    from chalicelib import aws

    aws.autoscaling().meta.events.register(
        "before-call.auto-scaling.SetDesiredCapacity", lambda **kw: calls.append("set")
    )
    for _ in range(3):
        client.lambda_.invoke("on_schedule_tick", event)
    assert len(decisions(client)) == 2
    assert calls == ["set"]


def test_many_targets_fan_out_through_sqs_in_shares_each_evaluated_together(
    client: Any, clients: dict[str, Any], three_targets: None, data_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAREA_INLINE_EVALUATION_LIMIT", "1")
    wiring.reset()
    result = client.lambda_.invoke("on_schedule_tick", tick_event()).payload
    assert result == {"evaluated": 0, "enqueued": 2, "decisions": []}
    assert decisions(client) == []

    messages = clients["sqs"].receive_message(QueueUrl=data_stack.evaluation_queue_url, MaxNumberOfMessages=10)[
        "Messages"
    ]
    bodies = [m["Body"] for m in messages]
    assert [json.loads(b)["target_ids"] for b in bodies] == [["a", "b"]]  # one share: the tick's unpaused targets
    sqs_event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="marea-test-evaluations")
    reads: list[str] = []
    aws.on_every_client("before-call.dynamodb.*", lambda model, **_: reads.append(model.name))
    client.lambda_.invoke("on_evaluation_message", sqs_event)
    assert reads.count("BatchGetItem") == 1  # the share's targets in one read, none one by one
    assert "GetItem" not in reads
    client.lambda_.invoke("on_evaluation_message", sqs_event)  # SQS redelivery
    assert sorted(d["target_id"] for d in decisions(client)) == ["a", "b"]
    assert asg_desired(clients, "a") == 4


def test_a_one_target_message_of_an_earlier_version_is_still_evaluated(
    client: Any, clients: dict[str, Any], three_targets: None
) -> None:
    # Queued before an upgrade to shares: {"target_id": ...} alone.
    body = json.dumps(
        {"target_id": "a", "trigger_type": "schedule", "event_id": "tick-before-upgrade", "at": "2026-01-01T00:00:00Z"}
    )
    sqs_event = client.events.generate_sqs_event(message_bodies=[body], queue_name="marea-test-evaluations")
    client.lambda_.invoke("on_evaluation_message", sqs_event)
    assert [d["target_id"] for d in decisions(client)] == ["a"]
    assert asg_desired(clients, "a") == 4


def test_a_malformed_fanout_message_is_rejected_without_evaluating(client: Any, three_targets: None) -> None:
    sqs_event = client.events.generate_sqs_event(message_bodies=['{"target_id": "a"}', "not json"])
    results = client.lambda_.invoke("on_evaluation_message", sqs_event).payload
    assert [r["code"] for r in results] == ["MALFORMED_EVENT", "MALFORMED_EVENT"]
    assert decisions(client) == []


@pytest.mark.parametrize(
    "event",
    [
        {"source": "aws.events"},
        {**tick_event(), "time": "yesterday"},
        {**tick_event(), "time": "2026-01-01T00:00:00"},  # no time zone
        {**tick_event(), "detail-type": "Something Else"},
    ],
)
def test_a_malformed_tick_is_rejected_and_touches_nothing(
    client: Any, clients: dict[str, Any], three_targets: None, event: Any
) -> None:
    result = client.lambda_.invoke("on_schedule_tick", event).payload
    assert result["rejected"] is True
    assert result["code"] == "MALFORMED_EVENT"
    assert decisions(client) == []
    assert asg_desired(clients, "a") == 2


def test_two_racing_evaluations_of_one_target_cannot_both_act(
    client: Any, clients: dict[str, Any], three_targets: None
) -> None:
    stored = wiring.registry().require("a")  # both evaluations read the same version
    now = datetime.now(UTC)
    first = wiring.evaluator().evaluate(stored, Trigger(type=TriggerType.MANUAL, event_id="e1", at=now))
    second = wiring.evaluator().evaluate(stored, Trigger(type=TriggerType.MANUAL, event_id="e2", at=now))
    assert first.outcome == "applied"
    assert second.outcome == "skipped"
    assert "CONCURRENT_EVALUATION" in second.reasons
    assert asg_desired(clients, "a") == 4
    assert len(decisions(client)) == 2
