"""The replay loop: causal, the world model applied, Marea's targets replayed through the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.backtest import POLICY_NAMES, World, run_backtest
from chalicelib.backtest.policies.engine import RequestSeries
from chalicelib.backtest.policies.presets import schedule_from_history, scheduled_target
from chalicelib.backtest.trace import trace_from_rates
from chalicelib.engine.predictive import SeriesView
from chalicelib.models.signals import Datapoint
from chalicelib.models.targets import (
    CustomMetric,
    ScheduledAction,
    ScheduledPolicy,
    TargetBase,
    TargetTrackingPolicy,
)
from tests.backtest.factories import daily_trace, step_trace

WORLD = World(kind="ec2", unit_capacity=10.0)


@pytest.mark.parametrize("policy", ["marea", "aws-target-tracking", "hpa"])
def test_given_a_trace_when_replaying_its_first_minutes_then_the_decisions_are_the_same(policy: str) -> None:
    trace = daily_trace(days=2.2)
    cut = 1440 + 650  # in the flash crowd of day 2, after the seasonal forecast has a reference day

    whole = run_backtest(trace, policy, WORLD)
    head = run_backtest(trace.head(cut), policy, WORLD)

    assert head.desired == whole.desired[:cut]
    assert head.ready == whole.ready[:cut]


def test_given_a_fixed_schedule_when_replaying_its_first_minutes_then_the_decisions_are_the_same() -> None:
    trace = daily_trace(days=1.5)
    schedule = schedule_from_history(trace.demand, WORLD, days=1)
    target = scheduled_target(WORLD, schedule)

    whole = run_backtest(trace, target, WORLD)
    head = run_backtest(trace.head(1000), target, WORLD)

    assert head.desired == whole.desired[:1000]


@pytest.mark.parametrize(("kind", "delay"), [("fargate", 2), ("ec2", 4), ("kops", 6)])
def test_given_a_step_when_replaying_then_new_units_serve_after_the_kinds_delay(kind: str, delay: int) -> None:
    world = World(kind=kind, unit_capacity=10.0)  # type: ignore[arg-type]
    trace = step_trace(low=35, high=350, step_at=60, minutes=120)

    result = run_backtest(trace, "marea", world)

    # Minute 60 is seen at minute 61; the units ordered then serve from 61 + delay.
    assert result.desired[61] > result.desired[60]
    assert result.ready[61 + delay - 1] == result.ready[60]
    assert result.ready[61 + delay] == result.desired[61]
    assert result.summary.under_provisioned_minutes == 1 + delay


def test_given_every_policy_name_when_replaying_then_a_summary_comes_back() -> None:
    trace = daily_trace(days=1.2)
    for name in POLICY_NAMES:
        result = run_backtest(trace, name, WORLD)
        assert result.policy == name
        assert len(result.desired) == len(trace)
        assert all(WORLD.min_units <= units <= WORLD.max_units for units in result.desired)
        assert result.summary.unit_hours > 0


def test_given_marea_and_target_tracking_on_a_daily_trace_then_marea_is_short_less_often() -> None:
    trace = daily_trace(days=2.5)

    marea = run_backtest(trace, "marea", WORLD).summary
    aws = run_backtest(trace, "aws-target-tracking", WORLD).summary

    assert marea.under_provisioned_minutes < aws.under_provisioned_minutes


def test_given_a_target_tracking_target_when_replaying_then_the_engine_reads_utilization() -> None:
    policy = TargetTrackingPolicy(
        name="cpu", metric=CustomMetric(namespace="App", metric_name="Utilization"), target_value=70
    )
    target = TargetBase(id="web", min=1, max=100, policies=[policy])
    trace = step_trace(low=7, high=21, step_at=30, minutes=60)  # 1 unit at 70 %, then 210 %

    result = run_backtest(trace, target, WORLD, label="tt")

    # 3 datapoints above target, then ceil(current x 210 % / 70 %) from 1 unit: 3 units.
    assert result.desired[32] == 1
    assert result.desired[33] == 3
    assert "Scale out from 1 to 3" in result.notes[33]


def test_given_a_schedule_learnt_from_a_week_then_hours_get_the_units_of_their_busiest_minute() -> None:
    demand = [700.0 if 9 <= (m // 60) % 24 < 17 else 70.0 for m in range(7 * 1440)]
    world = World(kind="ec2", unit_capacity=10.0, start=datetime(2024, 1, 1, tzinfo=UTC))

    schedule = schedule_from_history(demand, world)

    by_name = {a.name: a for a in schedule.actions}
    assert set(by_name) == {
        "weekdays-00h",
        "weekdays-09h",
        "weekdays-17h",
        "weekends-00h",
        "weekends-09h",
        "weekends-17h",
    }
    assert (by_name["weekdays-09h"].cron, by_name["weekdays-09h"].min_capacity) == ("0 9 * * MON-FRI", 100)
    assert by_name["weekends-17h"].max_capacity == 10


def test_given_an_explicit_schedule_when_replaying_then_capacity_follows_it() -> None:
    schedule = ScheduledPolicy(
        name="hours",
        actions=[
            ScheduledAction(name="day", cron="0 9 * * *", min_capacity=8, max_capacity=8),
            ScheduledAction(name="night", cron="0 17 * * *", min_capacity=2, max_capacity=2),
        ],
    )
    trace = trace_from_rates("flat", [10.0] * 1440)

    result = run_backtest(trace, scheduled_target(WORLD, schedule), WORLD)

    assert result.desired[9 * 60 - 1] == 2  # the 17:00 action of the day before is in force
    assert result.desired[9 * 60] == 8
    assert result.desired[17 * 60] == 2


def test_given_a_replays_request_series_then_the_engine_reads_the_same_windows_as_from_a_list() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    points = [Datapoint(timestamp=start + timedelta(minutes=m), value=float(m % 17)) for m in range(3000)]
    series = RequestSeries()
    for point in points:
        series.append(point)
    now = start + timedelta(minutes=2500, seconds=30)

    fast, plain = SeriesView(series, now, 60), SeriesView(points, now, 60)

    for low, high in [(0, 60), (1000, 2450), (2400, 2600), (2990, 3100)]:
        edges = (
            start + timedelta(minutes=low),
            start + timedelta(minutes=(low + high) // 2),
            start + timedelta(minutes=high),
        )
        assert fast.spans(*edges) == plain.spans(*edges)
    with pytest.raises(TypeError, match="append-only"):
        series[0] = points[1]
