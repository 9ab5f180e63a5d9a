"""High-resolution periods: what a policy's metric accepts, and how often the local pump evaluates an alarm.

AWS (docs/aws-semantics.md, "High-resolution metrics and alarms"): an alarm's period is 10, 20, 30 or a
multiple of 60 s; one of 10, 20 or 30 s is a high-resolution alarm, evaluated every 10 s; any other is
evaluated once a minute.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.models.targets import CustomMetric
from marea_local.event_pump import evaluation_interval_s


@pytest.mark.parametrize("period_s", [10, 20, 30, 60, 120, 300, 3600])
def test_a_metric_takes_every_alarm_period_cloudwatch_takes(period_s: int) -> None:
    metric = CustomMetric(namespace="App", metric_name="Load", period_s=period_s)
    assert metric.period_s == period_s


@pytest.mark.parametrize("period_s", [15, 45, 90, 150])
def test_other_periods_are_refused_with_the_ones_cloudwatch_takes(period_s: int) -> None:
    with pytest.raises(ValidationError, match=r"period_s must be 10, 20, 30 or a multiple of 60"):
        CustomMetric(namespace="App", metric_name="Load", period_s=period_s)


@pytest.mark.parametrize(("period_s", "interval_s"), [(10, 10), (20, 10), (30, 10), (60, 60), (300, 60)])
def test_the_pump_evaluates_high_resolution_alarms_every_10_s_and_others_every_minute(
    period_s: int, interval_s: int
) -> None:
    assert evaluation_interval_s(period_s) == interval_s
