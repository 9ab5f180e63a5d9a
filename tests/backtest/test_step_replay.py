"""Step policies replayed: their alarm is evaluated from the replayed metric each minute, as CloudWatch
evaluates it (chalicelib/alarm_evaluation.py), and the step applies through the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from chalicelib.backtest import UnsupportedPolicyError, World, run_backtest, trace_from_rates
from chalicelib.models.targets import AdjustmentType, StepAdjustment, StepScalingPolicy, TargetBase
from tests.backtest.factories import alarm, step_trace

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WORLD = World(kind="ec2", unit_capacity=10.0, start=T0)
MINUTE = timedelta(minutes=1)


def step_target(adjustment: int, alarm_name: str = "cpu-high", cooldown_s: int = 300) -> TargetBase:
    policy = StepScalingPolicy(
        name="burst",
        alarm_name=alarm_name,
        adjustment_type=AdjustmentType.CHANGE_IN_CAPACITY,
        steps=[StepAdjustment(lower_bound=0, adjustment=adjustment)],
        cooldown_s=cooldown_s,
    )
    return TargetBase(id="web", min=1, max=50, policies=[policy])


def test_given_a_cpu_alarm_when_the_load_steps_up_then_the_alarm_fires_and_the_step_applies() -> None:
    # 14 requests a minute start on 2 units (70 % of 10 each); from minute 30, 50: 250 % CPU on 2 units.
    trace = step_trace(low=14, high=50, step_at=30, minutes=60)

    cpu_above_85 = {"cpu-high": alarm(threshold=85.0)}

    plus_two = run_backtest(trace, step_target(2), WORLD, alarms=cpu_above_85)
    plus_four = run_backtest(trace, step_target(4), WORLD, alarms=cpu_above_85)

    # 2 of 2 one-minute datapoints above 85 % (minutes 30 and 31) are seen at minute 32.
    assert plus_two.desired[:32] == (2,) * 32
    assert plus_two.desired[32] == 4
    assert plus_four.desired[32] == 6
    assert "alarm 'cpu-high'" in plus_two.notes[32]
    # +2 leaves 4 units at 125 % once they serve (minute 36): still in ALARM, one more step after the cooldown;
    # +4 gives 6 units at 83 % CPU, within the threshold.
    assert plus_two.desired[37] == 6
    assert set(plus_four.desired[32:]) == {6}
    assert plus_four.summary.under_provisioned_minutes < plus_two.summary.under_provisioned_minutes
    assert plus_four.summary.unit_hours != plus_two.summary.unit_hours


def test_given_an_alarm_on_the_total_request_count_then_it_reads_the_sum_per_period() -> None:
    # RequestCount Sum over 5-minute periods > 600: 40 a minute is 200 per period, 140 a minute is 700.
    requests = alarm(
        namespace="AWS/ApplicationELB",
        metric_name="RequestCount",
        dimensions={"LoadBalancer": "app/web/1"},
        statistic="Sum",
        period_s=300,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=600.0,
    )
    trace = step_trace(low=40, high=140, step_at=30, minutes=60)

    result = run_backtest(trace, step_target(3), WORLD, alarms={"cpu-high": requests})

    # The period 00:30-00:35 closes at 00:35: the alarm is in ALARM from minute 35 on.
    assert result.desired[34] == result.desired[0]
    assert result.desired[35] == result.desired[0] + 3
    assert "at 700.0 (> threshold 600.0)" in result.notes[35]


def test_given_an_alarm_on_requests_per_target_then_it_reads_the_requests_each_serving_unit_took() -> None:
    per_target = alarm(
        namespace="AWS/ApplicationELB",
        metric_name="RequestCountPerTarget",
        dimensions={"TargetGroup": "targetgroup/web/1"},
        statistic="Sum",
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=15.0,
    )
    # 2 units: 14 a minute is 7 per unit, 40 is 20 per unit (> 15), while CPU would read 200 %.
    result = run_backtest(
        step_trace(low=14, high=40, step_at=30, minutes=40), step_target(1), WORLD, alarms={"cpu-high": per_target}
    )

    assert result.desired[30] == 2
    assert result.desired[31] == 3
    assert "at 20.0 (> threshold 15.0)" in result.notes[31]


def test_given_a_step_policy_without_its_alarm_when_replaying_then_it_is_refused_naming_the_alarm() -> None:
    with pytest.raises(UnsupportedPolicyError, match="'cpu-high'"):
        run_backtest(step_trace(1, 1, 0, 5), step_target(2), WORLD)


def test_given_an_alarm_on_a_percentile_when_replaying_then_it_is_refused_naming_the_statistic() -> None:
    with pytest.raises(UnsupportedPolicyError, match="p99"):
        run_backtest(step_trace(1, 1, 0, 5), step_target(2), WORLD, alarms={"cpu-high": alarm(statistic="p99")})


def test_a_step_replay_is_causal() -> None:
    trace = step_trace(low=14, high=60, step_at=30, minutes=120)
    prefix = trace_from_rates("prefix", trace.demand[:70])

    full = run_backtest(trace, step_target(2, cooldown_s=60), WORLD, alarms={"cpu-high": alarm()})
    part = run_backtest(prefix, step_target(2, cooldown_s=60), WORLD, alarms={"cpu-high": alarm()})

    assert part.desired == full.desired[:70]


def test_given_an_alarm_that_stays_in_alarm_then_the_step_reads_the_datapoint_it_fired_on() -> None:
    # CloudWatch keeps the StateReasonData of the last state change and the Lambdas read the value from
    # there: an alarm that fired at 90 % and stays in ALARM while the load climbs still reports 90 %.
    trace = trace_from_rates("climb", [14.0] * 30 + [18.0] * 2 + [60.0] * 28)
    steps = StepScalingPolicy(
        name="burst",
        alarm_name="cpu-high",
        adjustment_type=AdjustmentType.CHANGE_IN_CAPACITY,
        steps=[
            StepAdjustment(lower_bound=0, upper_bound=20, adjustment=1),
            StepAdjustment(lower_bound=20, adjustment=4),
        ],
        cooldown_s=300,
    )
    target = TargetBase(id="web", min=1, max=50, policies=[steps])

    result = run_backtest(trace, target, WORLD, alarms={"cpu-high": alarm()})

    desired = result.desired
    changes = [(minute, desired[minute]) for minute in range(1, len(desired)) if desired[minute] != desired[minute - 1]]
    assert changes[0] == (32, 3)  # fired on 90 %: 10 above the threshold, +1
    assert len(changes) > 1  # the alarm stayed in ALARM: the step applied again after its cooldown
    assert all(units - before == 1 for (_, before), (_, units) in pairwise(changes))
