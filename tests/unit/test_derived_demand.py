"""Demand derived from a tracked utilization: u x n x U / 100 (or load per unit x n) gives back the requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.backtest import World, run_backtest
from chalicelib.backtest.world_metrics import Reading
from chalicelib.derived_demand import derive, tracked_gauge
from chalicelib.models.targets import AsgTarget, CustomMetric, Statistic, TargetTrackingPolicy
from tests.backtest.factories import daily_trace

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_given_the_utilization_and_units_of_a_replayed_world_then_the_derived_demand_is_its_requests() -> None:
    world = World(kind="ec2", unit_capacity=9.0, start=T0)
    trace = daily_trace(days=1)
    run = run_backtest(trace, "aws-target-tracking", world)  # a fleet that follows the load, units changing
    at = [T0 + i * MINUTE for i in range(len(trace.demand))]
    utilization = [world.utilization(d, n) for d, n in zip(trace.demand, run.ready, strict=True)]

    by_cpu = derive(
        [(t, u) for t, u in zip(at, utilization, strict=True) if u is not None],
        [(t, float(n)) for t, n in zip(at, run.ready, strict=True)],
        Reading.UTILIZATION,
        world.unit_capacity,
    )
    per_unit = derive(
        [(t, d / n) for t, d, n in zip(at, trace.demand, run.ready, strict=True)],
        [(t, float(n)) for t, n in zip(at, run.ready, strict=True)],
        Reading.PER_UNIT,
        world.unit_capacity,
    )

    assert len(set(run.ready)) > 3
    assert by_cpu is not None
    assert per_unit is not None
    assert by_cpu.requests == pytest.approx(trace.demand)
    assert per_unit.requests == pytest.approx(trace.demand)
    assert (by_cpu.start, by_cpu.missing_minutes) == (T0, 0)


def test_given_a_minute_without_units_or_utilization_then_it_holds_the_previous_demand_and_counts_missing() -> None:
    gauge = [(T0, 50.0), (T0 + MINUTE, 60.0), (T0 + 3 * MINUTE, 40.0)]
    serving = [(T0, 2.0), (T0 + 2 * MINUTE, 2.0), (T0 + 3 * MINUTE, 3.0)]

    demand = derive(gauge, serving, Reading.UTILIZATION, 10.0)

    assert demand is not None
    # minute 1 has no units serving datapoint, minute 2 no utilization: both hold minute 0's 10 requests.
    assert demand.requests == (10.0, 10.0, 10.0, 12.0)
    assert demand.missing_minutes == 2


def test_given_a_value_that_is_not_a_load_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="not a load"):
        derive([(T0, -1.0)], [(T0, 2.0)], Reading.UTILIZATION, 10.0)
    assert derive([], [(T0, 2.0)], Reading.UTILIZATION, 10.0) is None


@pytest.mark.parametrize("statistic", [Statistic.MAXIMUM, Statistic.MINIMUM, Statistic.AVERAGE])
def test_given_a_policy_on_any_statistic_then_the_derived_demand_reads_the_average(statistic: Statistic) -> None:
    # u x n is the demand only for the mean over the units: a Maximum would overstate it.
    cpu = CustomMetric(
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        statistic=statistic,
    )
    tracking = TargetTrackingPolicy(name="cpu", metric=cpu, target_value=60)
    target = AsgTarget(id="web", asg_name="web", min=1, max=10, policies=[tracking])

    derived = tracked_gauge(target)

    assert derived is not None
    assert derived.gauge.statistic is Statistic.AVERAGE
