"""An alarm as DescribeAlarms reports it, turned into what the engine sees (signal_collector)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.models.signals import AlarmState, ComparisonOperator
from chalicelib.signal_collector import observation_from_alarm


def metric_alarm(**overrides: Any) -> dict[str, Any]:
    """A MetricAlarms entry of DescribeAlarms (the fields Marea reads, as AWS returns them)."""
    reason_data = {
        "version": "1.0",
        "queryDate": "2024-11-26T10:03:12.481+0000",
        "statistic": "Average",
        "period": 60,
        "recentDatapoints": [30.0],
        "threshold": 30.0,
        "evaluatedDatapoints": [{"timestamp": "2024-11-26T10:02:00.000+0000", "sampleCount": 5.0, "value": 30.0}],
    }
    alarm: dict[str, Any] = {
        "AlarmName": "web-cpu-low",
        "StateValue": "ALARM",
        "Threshold": 30.0,
        "ComparisonOperator": "LessThanOrEqualToThreshold",
        "StateReasonData": json.dumps(reason_data),
        "StateUpdatedTimestamp": datetime(2024, 11, 26, 10, 3, tzinfo=UTC),
    }
    alarm.update(overrides)
    return alarm


@pytest.mark.parametrize("operator", list(ComparisonOperator))
def test_the_comparison_operator_is_carried_into_the_observation(operator: ComparisonOperator) -> None:
    observation = observation_from_alarm(metric_alarm(ComparisonOperator=operator.value))

    assert (observation.state, observation.value, observation.threshold) == (AlarmState.ALARM, 30.0, 30.0)
    assert observation.comparison is operator


@pytest.mark.parametrize(
    "operator", ["LessThanLowerOrGreaterThanUpperThreshold", "GreaterThanUpperThreshold", None], ids=str
)
def test_an_operator_without_a_static_threshold_side_is_left_unknown(operator: str | None) -> None:
    alarm = metric_alarm(ComparisonOperator=operator) if operator else metric_alarm()
    if operator is None:
        del alarm["ComparisonOperator"]

    assert observation_from_alarm(alarm).comparison is None
