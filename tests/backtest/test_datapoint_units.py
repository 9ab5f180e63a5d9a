"""A replayed target-tracking target sizes from the units that served the datapoint, not the units serving now.

A utilization datapoint is averaged over the units that served its minute. When the units a scale-out
ordered come into service, the newest datapoint is still the one measured over the units before them:
sizing it by the units serving now orders the scale-out again (docs/aws-semantics.md, "Target tracking").
"""

from __future__ import annotations

import pytest

from chalicelib.backtest import World, run_backtest
from chalicelib.backtest.world import Kind
from chalicelib.models.targets import AsgTarget, PredefinedMetric, PredefinedMetricType, TargetTrackingPolicy
from tests.backtest.factories import step_trace

CPU = PredefinedMetric(predefined=PredefinedMetricType.ASG_AVERAGE_CPU)
TARGET = AsgTarget(
    id="web", asg_name="web", min=1, max=100, policies=[TargetTrackingPolicy(name="cpu", metric=CPU, target_value=70)]
)


@pytest.mark.parametrize("kind", ["ec2", "kops", "fargate"])
def test_given_a_step_up_when_the_booted_units_come_into_service_then_nothing_more_is_ordered(kind: Kind) -> None:
    # 35 requests a minute on 5 units of 10 is 70 %; then 70: 140 % on 5, which 10 units serve at 70 %.
    result = run_backtest(
        step_trace(low=35, high=70, step_at=30, minutes=80), TARGET, World(kind=kind, unit_capacity=10)
    )

    assert result.desired[33] == 10  # three datapoints above target: ceil(5 x 140 / 70)
    # Not 20 when the 5 new units serve: the datapoint of their first minute was measured over the 5 before.
    assert max(result.desired) == 10
    assert result.ready[-1] == 10
