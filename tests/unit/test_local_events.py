"""The local pump's EventBridge events must be what Marea's handlers parse from real AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.alarm_evaluation import AlarmDefinition, ComparisonOperator, evaluate
from chalicelib.models.events import AlarmStateChangeEvent, ScheduledTickEvent, parse_event
from chalicelib.models.signals import AlarmState
from marea_local.events import alarm_state_change_event, scheduled_tick_event

NOW = datetime(2026, 11, 24, 10, 3, 12, 481000, tzinfo=UTC)
ARN = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:marea-web-cpu-high"
DEFINITION = AlarmDefinition(
    name="marea-web-cpu-high",
    arn=ARN,
    namespace="AWS/EC2",
    metric_name="CPUUtilization",
    dimensions={"AutoScalingGroupName": "marea-web"},
    statistic="Average",
    period_s=60,
    evaluation_periods=3,
    datapoints_to_alarm=3,
    threshold=70.0,
    comparison_operator=ComparisonOperator.GREATER_THAN,
    description="web CPU above 70 %",
)
BREACHING = [(datetime(2026, 11, 24, 10, minute, tzinfo=UTC), 80.0 + minute) for minute in (0, 1, 2)]


def test_alarm_event_parses_with_marea_s_model() -> None:
    evaluation = evaluate(DEFINITION, BREACHING, NOW, AlarmState.OK)
    previous_since = NOW - timedelta(hours=1)

    raw = alarm_state_change_event(
        DEFINITION,
        evaluation,
        AlarmState.OK,
        "Threshold Crossed: earlier",
        time=NOW,
        region="eu-west-1",
        account="111122223333",
        event_id="e-1",
        previous_reason_data={"version": "1.0", "threshold": 70.0, "recentDatapoints": [12.0]},
        previous_timestamp=previous_since,
    )
    event = parse_event(AlarmStateChangeEvent, raw)

    assert (event.id, event.account, event.region, event.resources) == ("e-1", "111122223333", "eu-west-1", [ARN])
    assert event.time == NOW.replace(microsecond=0)  # EventBridge's time has whole seconds
    assert event.detail.state.value is AlarmState.ALARM
    assert event.detail.state.reason == evaluation.reason
    assert event.detail.state.timestamp == NOW
    assert event.detail.previous_state.value is AlarmState.OK
    assert event.detail.previous_state.timestamp == previous_since
    assert event.detail.configuration.description == "web CPU above 70 %"
    assert (event.latest_value, event.threshold) == (82.0, 70.0)


def test_alarm_event_has_aws_s_exact_shape() -> None:
    evaluation = evaluate(DEFINITION, BREACHING, NOW, AlarmState.OK)

    raw = alarm_state_change_event(DEFINITION, evaluation, AlarmState.OK, "before", time=NOW, region="eu-west-1")

    assert list(raw) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert raw["version"] == "0"
    assert raw["detail-type"] == "CloudWatch Alarm State Change"
    assert raw["source"] == "aws.cloudwatch"
    assert raw["account"] == "123456789012"
    assert raw["time"] == "2026-11-24T10:03:12Z"
    state = raw["detail"]["state"]
    assert state["timestamp"] == "2026-11-24T10:03:12.481+0000"
    assert isinstance(state["reasonData"], str)  # a JSON document inside a string
    assert json.loads(state["reasonData"]) == evaluation.reason_data
    assert "reasonData" not in raw["detail"]["previousState"]  # none known
    assert raw["detail"]["configuration"]["metrics"][0]["metricStat"] == {
        "metric": {
            "dimensions": {"AutoScalingGroupName": "marea-web"},
            "name": "CPUUtilization",
            "namespace": "AWS/EC2",
        },
        "period": 60,
        "stat": "Average",
    }


def test_each_event_gets_a_fresh_id_unless_given() -> None:
    evaluation = evaluate(DEFINITION, BREACHING, NOW, AlarmState.OK)

    ids = {
        alarm_state_change_event(DEFINITION, evaluation, AlarmState.OK, "r", time=NOW, region="eu-west-1")["id"]
        for _ in range(3)
    }

    assert len(ids) == 3


def test_scheduled_tick_parses_and_takes_account_and_region_from_the_rule() -> None:
    rule = "arn:aws:events:eu-west-1:111122223333:rule/marea-prod-evaluate_all"

    raw = scheduled_tick_event(rule, datetime(2026, 11, 24, 10, 4, tzinfo=UTC), event_id="t-1")
    event = parse_event(ScheduledTickEvent, raw)

    assert raw == {
        "version": "0",
        "id": "t-1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "111122223333",
        "time": "2026-11-24T10:04:00Z",
        "region": "eu-west-1",
        "resources": [rule],
        "detail": {},
    }
    assert event.rule_arn == rule


def test_tick_needs_a_rule_arn() -> None:
    with pytest.raises(ValueError, match="rule ARN"):
        scheduled_tick_event("arn:aws:sqs:eu-west-1:111122223333:queue", NOW)


def test_event_times_must_be_aware() -> None:
    rule = "arn:aws:events:eu-west-1:111122223333:rule/tick"

    with pytest.raises(ValueError, match="timezone-aware"):
        scheduled_tick_event(rule, datetime(2026, 11, 24, 10, 4))
