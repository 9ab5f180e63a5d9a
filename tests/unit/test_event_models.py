"""Event models against the sample events in tests/events (AWS's formats, as AWS sends them)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from chalicelib.errors import MalformedEventError
from chalicelib.models.decisions import TriggerType
from chalicelib.models.events import (
    AlarmStateChangeEvent,
    EvaluationMessage,
    ScheduledTickEvent,
    parse_event,
)
from chalicelib.models.signals import AlarmObservation, AlarmState, ComparisonOperator

EVENTS = Path(__file__).resolve().parent.parent / "events"
MALFORMED = EVENTS / "malformed"


def model_for(path: Path) -> type[BaseModel]:
    """Sample files are named after the model that reads them."""
    prefixes: dict[str, type[BaseModel]] = {
        "alarm": AlarmStateChangeEvent,
        "schedule": ScheduledTickEvent,
        "evaluation_message": EvaluationMessage,
    }
    return next(model for prefix, model in prefixes.items() if path.name.startswith(prefix))


def load(path: Path) -> dict[str, Any] | str:
    """The SQS message is parsed from its JSON body (its wire form); EventBridge events from dicts."""
    text = path.read_text()
    if model_for(path) is EvaluationMessage:
        return text
    decoded: dict[str, Any] = json.loads(text)
    return decoded


def sample(name: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return decoded


GOOD = sorted(EVENTS.glob("*.json"))
BAD = sorted(MALFORMED.glob("*.json"))


def test_there_are_samples_of_each_kind() -> None:
    assert {model_for(path) for path in GOOD} == {AlarmStateChangeEvent, ScheduledTickEvent, EvaluationMessage}
    assert len(BAD) >= 10


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_every_good_sample_parses(path: Path) -> None:
    parsed = parse_event(model_for(path), load(path))
    assert isinstance(parsed, model_for(path))


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_every_malformed_sample_is_rejected_with_its_id(path: Path) -> None:
    raw = load(path)
    decoded = json.loads(raw) if isinstance(raw, str) else raw
    expected_id = decoded.get("id") or decoded.get("event_id") or "unknown"

    with pytest.raises(MalformedEventError) as caught:
        parse_event(model_for(path), raw)

    assert repr(expected_id) in caught.value.message
    assert caught.value.code == "MALFORMED_EVENT"


def test_alarm_event_fields() -> None:
    event = parse_event(AlarmStateChangeEvent, sample("alarm_state_change_alarm.json"))

    assert event.alarm_name == "marea-web-cpu-high"
    assert event.alarm_arn == "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:marea-web-cpu-high"
    assert event.detail.state.value is AlarmState.ALARM
    assert event.detail.previous_state.value is AlarmState.OK
    assert event.time == datetime(2024, 11, 26, 10, 3, 12, tzinfo=UTC)
    # "+0000" offsets, as CloudWatch writes them, are understood.
    assert event.detail.state.timestamp == datetime(2024, 11, 26, 10, 3, 12, 484000, tzinfo=UTC)
    metric = event.detail.configuration.metrics[0].metric_stat
    assert metric is not None
    assert (metric.metric.namespace, metric.metric.name, metric.period, metric.stat) == (
        "AWS/EC2",
        "CPUUtilization",
        60,
        "Average",
    )
    assert metric.metric.dimensions == {"AutoScalingGroupName": "marea-web"}


def test_reason_data_is_decoded_from_its_json_string() -> None:
    event = parse_event(AlarmStateChangeEvent, sample("alarm_state_change_alarm.json"))

    reason_data = event.reason_data
    assert reason_data is not None
    assert reason_data.threshold == 70.0
    assert reason_data.recent_datapoints == [84.25, 88.5, 91.0]
    assert [p.value for p in reason_data.evaluated_datapoints] == [91.0, 88.5, 84.25]
    assert event.detail.previous_state.reason_data is not None


def test_latest_value_and_threshold_for_step_scaling() -> None:
    event = parse_event(AlarmStateChangeEvent, sample("alarm_state_change_alarm.json"))

    assert (event.latest_value, event.threshold) == (91.0, 70.0)
    assert event.to_observation() == AlarmObservation(
        name="marea-web-cpu-high",
        state=AlarmState.ALARM,
        threshold=70.0,
        value=91.0,
        timestamp=datetime(2024, 11, 26, 10, 2, tzinfo=UTC),
        comparison=ComparisonOperator.GREATER_THAN,
    )


@pytest.mark.parametrize(
    ("reason", "comparison"),
    [
        pytest.param(
            "Threshold Crossed: 1 out of the last 1 datapoints [40.0 (26/11/24 10:02:00)] was less than or equal to"
            " the threshold (40.0) (minimum 1 datapoint for OK -> ALARM transition).",
            ComparisonOperator.LESS_THAN_OR_EQUAL,
            id="le",
        ),
        pytest.param(
            "Threshold Crossed: 2 out of the last 2 datapoints [9.0 (26/11/24 10:02:00), 8.0 (26/11/24 10:01:00)]"
            " were less than the threshold (10.0) (minimum 2 datapoints for OK -> ALARM transition).",
            ComparisonOperator.LESS_THAN,
            id="lt-plural",
        ),
        pytest.param(
            "Threshold Crossed: 1 out of the last 3 datapoints [41.2 (26/11/24 09:58:00)] was not greater than or"
            " equal to the threshold (70.0) (minimum 1 datapoint for ALARM -> OK transition).",
            ComparisonOperator.GREATER_THAN_OR_EQUAL,
            id="ge-negated-in-ok",
        ),
        pytest.param(
            "Threshold Crossed: 3 missing datapoints were treated as [Breaching] (minimum 3 datapoints for OK ->"
            " ALARM transition).",
            None,
            id="no-datapoint-named",
        ),
        pytest.param("Insufficient Data: 3 datapoints were unknown.", None, id="insufficient-data"),
    ],
)
def test_the_comparison_operator_is_read_from_the_state_reason(
    reason: str, comparison: ComparisonOperator | None
) -> None:
    raw = copy.deepcopy(sample("alarm_state_change_alarm.json"))
    raw["detail"]["state"]["reason"] = reason

    assert parse_event(AlarmStateChangeEvent, raw).to_observation().comparison is comparison


def test_latest_value_skips_filled_in_missing_datapoints() -> None:
    event = parse_event(AlarmStateChangeEvent, sample("alarm_state_change_alarm_missing_breaching.json"))

    reason_data = event.reason_data
    assert reason_data is not None
    assert [p.value for p in reason_data.evaluated_datapoints] == [None, None, 96.5]
    assert event.latest_value == 96.5


def test_insufficient_data_event_has_no_value() -> None:
    event = parse_event(AlarmStateChangeEvent, sample("alarm_state_change_insufficient_data.json"))

    assert event.detail.state.value is AlarmState.INSUFFICIENT_DATA
    assert event.latest_value is None
    assert event.threshold == 70.0
    assert event.to_observation().value is None


def test_absent_reason_data_is_tolerated() -> None:
    raw = sample("alarm_state_change_ok.json")
    del raw["detail"]["state"]["reasonData"]
    del raw["detail"]["previousState"]["reasonData"]

    event = parse_event(AlarmStateChangeEvent, raw)

    assert event.reason_data is None
    assert (event.latest_value, event.threshold) == (None, None)
    assert event.to_observation().state is AlarmState.OK


def test_fields_aws_adds_later_are_ignored() -> None:
    raw = sample("alarm_state_change_alarm.json")
    raw["detail"]["alarmTags"] = {"team": "web"}
    raw["detail"]["state"]["actionsSuppressedBy"] = "WaitPeriod"

    assert parse_event(AlarmStateChangeEvent, raw).alarm_name == "marea-web-cpu-high"


def test_error_message_names_the_failing_fields_not_the_payload() -> None:
    raw = sample("alarm_state_change_alarm.json")
    raw["id"] = "e1"
    raw["detail"]["state"]["value"] = "PENDING"
    raw["time"] = "yesterday"

    with pytest.raises(MalformedEventError) as caught:
        parse_event(AlarmStateChangeEvent, raw)

    message = caught.value.message
    assert message.startswith("malformed AlarmStateChangeEvent event 'e1': ")
    assert "detail.state.value: Input should be 'OK', 'ALARM' or 'INSUFFICIENT_DATA'" in message
    assert "time: " in message
    assert "Threshold Crossed" not in message


def test_error_message_caps_the_list_of_errors() -> None:
    with pytest.raises(MalformedEventError) as caught:
        parse_event(AlarmStateChangeEvent, {"id": "e2"})

    assert "(and " in caught.value.message
    assert caught.value.message.count(": Field required") == 3


def test_scheduled_tick_event() -> None:
    event = parse_event(ScheduledTickEvent, sample("scheduled_event.json"))

    assert event.rule_arn == "arn:aws:events:eu-west-1:111122223333:rule/marea-prod-evaluate_all"
    assert event.time == datetime(2024, 11, 26, 10, 4, tzinfo=UTC)
    assert event.detail == {}


def test_evaluation_message_round_trips_through_json() -> None:
    message = EvaluationMessage(
        target_id="web",
        trigger_type=TriggerType.ALARM,
        event_id="6f0f5b7e-3c1d-4e8e-9f0a-2b7c1d4e5a61",
        at=datetime(2024, 11, 26, 10, 3, 12, tzinfo=UTC),
    )

    assert parse_event(EvaluationMessage, message.model_dump_json()) == message
    assert parse_event(EvaluationMessage, (EVENTS / "evaluation_message.json").read_text()) == message


def test_a_share_message_names_up_to_100_targets_in_the_tick_s_order() -> None:
    message = EvaluationMessage(
        target_ids=("web", "api", "chat"),
        trigger_type=TriggerType.SCHEDULE,
        event_id="tick",
        at=datetime(2024, 11, 26, 10, 3, tzinfo=UTC),
    )

    assert parse_event(EvaluationMessage, message.model_dump_json(exclude_defaults=True)).targets == (
        "web",
        "api",
        "chat",
    )


@pytest.mark.parametrize(
    ("targets", "refused"),
    [
        ({}, "give either target_ids (1 to 100 ids) or target_id, not both"),
        ({"target_ids": ["a"], "target_id": "a"}, "give either target_ids (1 to 100 ids) or target_id, not both"),
        ({"target_ids": []}, "give either target_ids (1 to 100 ids) or target_id, not both"),
        ({"target_ids": ["a"] * 101}, "at most 100 items"),
        ({"target_ids": ["ok", "not ok"]}, "target_ids.1: String should match pattern"),
    ],
)
def test_a_share_message_without_targets_or_with_bad_ones_is_malformed(targets: dict[str, Any], refused: str) -> None:
    body = {**targets, "trigger_type": "schedule", "event_id": "tick", "at": "2024-11-26T10:03:12Z"}

    with pytest.raises(MalformedEventError) as caught:
        parse_event(EvaluationMessage, json.dumps(body))

    assert refused in caught.value.message


def test_evaluation_message_is_strict() -> None:
    body = {"target_id": "web", "trigger_type": "alarm", "event_id": 42, "at": "2024-11-26T10:03:12Z"}

    with pytest.raises(MalformedEventError) as caught:
        parse_event(EvaluationMessage, json.dumps(body))

    assert "event_id: Input should be a valid string" in caught.value.message


def test_unreadable_json_body_is_malformed_with_unknown_id() -> None:
    with pytest.raises(MalformedEventError) as caught:
        parse_event(EvaluationMessage, "{not json")

    assert "'unknown'" in caught.value.message
