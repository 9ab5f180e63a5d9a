"""Replays in steps finer than a minute (10, 20, 30 s): the world, the engine's cadence and the baselines.

A minute trace spread evenly over 10 s steps holds the same load, so a target whose metrics and alarms are
1-minute ones decides at the same minutes and pays the same as in the minute replay: each figure below
could differ if the world's delays, the datapoints' aggregation or the tick cadence were off by a step.
High-resolution policies then read what a finer replay adds: their own 10 s datapoints, and a trigger alarm
that evaluates the target between the minute's ticks, as the Lambdas would (issue #18).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.backtest import Trace, TraceError, UnsupportedPolicyError, World, run_backtest, trace_from_rates
from chalicelib.models.targets import (
    AdjustmentType,
    CustomMetric,
    PredefinedMetric,
    PredefinedMetricType,
    StepAdjustment,
    StepScalingPolicy,
    TargetBase,
    TargetTrackingPolicy,
)
from tests.backtest.factories import alarm, daily_trace

T0 = datetime(2024, 1, 1, tzinfo=UTC)
WORLD = World(kind="ec2", unit_capacity=10.0, start=T0)
CPU = PredefinedMetric(predefined=PredefinedMetricType.ASG_AVERAGE_CPU)
CONNECTIONS = CustomMetric(namespace="Marea/Chat", metric_name="ConnectedClients")  # Average: a level per unit
PER_TARGET = PredefinedMetric(
    predefined=PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET, resource_label="app/lb/1/targetgroup/tg/2"
)


def tracking_target(metric: CustomMetric | PredefinedMetric, target_value: float, **fields: Any) -> TargetBase:
    policy = TargetTrackingPolicy(name="tt", metric=metric, target_value=target_value, **fields)
    return TargetBase(id="web", min=1, max=200, policies=[policy])


def every_step(per_minute: tuple[int, ...], steps_per_minute: int) -> tuple[int, ...]:
    return tuple(units for units in per_minute for _ in range(steps_per_minute))


@pytest.fixture(scope="module")
def trace() -> Trace:
    return daily_trace(days=1.5)


def test_a_minute_trace_spread_to_10_s_holds_the_same_requests_in_six_times_the_steps(trace: Trace) -> None:
    fine = trace.at_step(10)

    assert (fine.step_s, len(fine), fine.minutes) == (10, 6 * len(trace), len(trace))
    assert sum(fine.demand) == pytest.approx(sum(trace.demand))
    assert fine.demand[:6] == pytest.approx([trace.demand[0] / 6] * 6)


@pytest.mark.parametrize("step_s", [7, 45, 120, 0])
def test_a_step_that_is_not_a_cloudwatch_high_resolution_period_dividing_a_minute_is_refused(step_s: int) -> None:
    with pytest.raises(TraceError, match="a step is one of 10, 20, 30, 60 s"):
        trace_from_rates("t", [1.0, 2.0], step_s=step_s)


def test_only_a_minute_trace_is_spread_to_a_finer_step(trace: Trace) -> None:
    with pytest.raises(TraceError, match="only a minute trace"):
        trace.at_step(10).at_step(20)


@pytest.mark.parametrize(
    ("metric", "target_value"),
    [(CPU, 60.0), (CONNECTIONS, 6.0), (PER_TARGET, 6.0)],
    ids=["utilization", "level-per-unit", "count-per-unit"],
)
@pytest.mark.parametrize("step_s", [10, 20, 30])
def test_given_1_minute_metrics_then_a_finer_replay_decides_the_same_minutes_and_pays_the_same(
    trace: Trace, metric: CustomMetric | PredefinedMetric, target_value: float, step_s: int
) -> None:
    """The schedule's tick evaluates the target once a minute in both; units boot for the same 4 minutes."""
    target = tracking_target(metric, target_value)
    minute = run_backtest(trace, target, WORLD)
    fine = run_backtest(trace.at_step(step_s), target, WORLD)

    assert minute.summary.scaling_actions > 10  # the trace moves the target
    assert fine.desired == every_step(minute.desired, 60 // step_s)
    assert fine.ready == every_step(minute.ready, 60 // step_s)
    assert fine.summary.unit_hours == pytest.approx(minute.summary.unit_hours)
    assert fine.summary.ideal_unit_hours == pytest.approx(minute.summary.ideal_unit_hours)
    assert fine.summary.under_provisioned_minutes == minute.summary.under_provisioned_minutes
    assert (fine.summary.scaling_actions, fine.summary.minutes) == (minute.summary.scaling_actions, len(trace))
    assert fine.summary.jitter_per_hour == pytest.approx(minute.summary.jitter_per_hour)


@pytest.mark.parametrize("policy", ["aws-target-tracking", "hpa", "marea"])
def test_given_a_minute_based_policy_then_a_10_s_replay_decides_what_the_minute_replay_does(
    trace: Trace, policy: str
) -> None:
    """AWS target tracking and the HPA are modelled on 1-minute metrics: a finer replay shows them whole minutes."""
    minute = run_backtest(trace, policy, WORLD)
    fine = run_backtest(trace.at_step(10), policy, WORLD)

    assert minute.summary.scaling_actions > 5
    assert fine.desired == every_step(minute.desired, 6)
    assert fine.summary.under_provisioned_minutes == minute.summary.under_provisioned_minutes


def test_given_a_step_policy_on_a_1_minute_alarm_then_a_10_s_replay_acts_in_the_same_minutes(trace: Trace) -> None:
    policy = StepScalingPolicy(
        name="burst",
        alarm_name="cpu-high",
        adjustment_type=AdjustmentType.CHANGE_IN_CAPACITY,
        steps=[StepAdjustment(lower_bound=0, adjustment=2)],
        cooldown_s=120,
    )
    target = TargetBase(id="web", min=1, max=50, policies=[policy])
    alarms = {"cpu-high": alarm("cpu-high")}
    minute = run_backtest(trace, target, WORLD, alarms=alarms)
    fine = run_backtest(trace.at_step(10), target, WORLD, alarms=alarms)

    assert minute.summary.scale_outs > 0
    assert fine.desired == every_step(minute.desired, 6)


def test_given_a_10_s_metric_then_a_minute_replay_refuses_it_instead_of_reading_minutes_as_its_datapoints(
    trace: Trace,
) -> None:
    """Before, a 10 s policy replayed on a minute trace took each minute for one of its datapoints: its 3-datapoint
    window lasted 3 minutes instead of 30 s, and the figures were a 1-minute policy's under its name."""
    fast = tracking_target(CustomMetric(namespace="App", metric_name="CPUUtilization", period_s=10), 60)

    with pytest.raises(UnsupportedPolicyError, match="reads datapoints of 10 s; a replay in steps of 60 s"):
        run_backtest(trace, fast, WORLD)
    half_minute = CustomMetric(namespace="App", metric_name="CPUUtilization", period_s=30)
    with pytest.raises(UnsupportedPolicyError, match="reads datapoints of 30 s; a replay in steps of 20 s"):
        run_backtest(trace.at_step(20), tracking_target(half_minute, 60), WORLD)


def test_given_a_10_s_alarm_then_a_replay_in_steps_of_a_minute_refuses_it(trace: Trace) -> None:
    policy = StepScalingPolicy(
        name="burst",
        alarm_name="fast",
        adjustment_type=AdjustmentType.CHANGE_IN_CAPACITY,
        steps=[StepAdjustment(lower_bound=0, adjustment=2)],
    )
    target = TargetBase(id="web", min=1, max=50, policies=[policy])

    with pytest.raises(UnsupportedPolicyError, match="has a 10 s period; a replay in steps of 60 s"):
        run_backtest(trace, target, WORLD, alarms={"fast": alarm("fast", period_s=10)})
    assert run_backtest(trace.at_step(10), target, WORLD, alarms={"fast": alarm("fast", period_s=10)}).summary.steps


def fast_target(trigger: str | None) -> TargetBase:
    metric = CustomMetric(namespace="App", metric_name="CPUUtilization", period_s=10)
    return tracking_target(metric, 60, trigger_alarm=trigger) if trigger else tracking_target(metric, 60)


def first_scale_out_s(result_desired: tuple[int, ...], step_s: int) -> int:
    first = next(step for step, units in enumerate(result_desired) if units > result_desired[0])
    return first * step_s


def test_given_a_10_s_metric_with_its_trigger_alarm_then_the_target_answers_between_the_ticks() -> None:
    """A load step at 10:05:10; with a 10 s metric the 3-datapoint window is full 30 s later. The trigger alarm
    (the metric above the target for 3 of 3 periods) fires then and evaluates the target at once; without a
    trigger the policy waits for the next tick, on the minute."""
    quiet, busy = [30.0 / 6] * (60 * 6 + 1), [90.0 / 6] * (30 * 6)
    trace = trace_from_rates("step", quiet + busy, step_s=10)  # step 361 = 60 min 10 s in
    trigger = alarm("fast-high", namespace="App", dimensions={}, period_s=10, evaluation_periods=3)
    trigger = trigger.model_copy(update={"datapoints_to_alarm": 3, "threshold": 60.0})

    triggered = run_backtest(trace, fast_target("fast-high"), WORLD, alarms={"fast-high": trigger})
    ticks_only = run_backtest(trace, fast_target(None), WORLD)

    assert first_scale_out_s(triggered.desired, 10) == 3610 + 30  # three 10 s datapoints above 60 %
    assert first_scale_out_s(ticks_only.desired, 10) == 3660  # the next tick
    assert triggered.notes[364]  # the engine's reason, at the step it acted


def test_given_a_trigger_alarm_without_its_definition_then_a_fine_replay_refuses_the_target() -> None:
    trace = daily_trace(days=0.1).at_step(10)

    with pytest.raises(UnsupportedPolicyError, match="is evaluated in 10 s steps on alarm 'fast-high'"):
        run_backtest(trace, fast_target("fast-high"), WORLD)
    # A minute replay evaluates the target at every step: it needs no trigger to know when.
    minute_target = tracking_target(CPU, 60, trigger_alarm="cpu-above-target")
    assert run_backtest(daily_trace(days=0.1), minute_target, WORLD).summary.steps
