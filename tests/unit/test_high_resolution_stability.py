"""Faster signals must not mean flapping: the backtest world and the engine's stabilisation at 10 s (issue #18).

A real minute trace (the NASA July 1995 logs, bench/data) is interpolated to 10 s and replayed in the backtest's
world in 10 s steps (chalicelib/backtest: EC2 units boot for 4 minutes, the metric is the serving units'
utilization averaged per period), through the engine the Lambdas run, evaluated when they would evaluate it:
on the minute's tick and on the state changes of the target's alarms. The same target-tracking policy with
Marea's defaults reads a 1-minute metric, or a 10 s one with the trigger alarm a stack gives it (the metric
above the target for 3 of 3 periods, as infra/chat-fargate.yaml's). Its scale-out window counts datapoints
(30 s at 10 s); its default scale-in window is 15 minutes at any period, and the cooldowns and the target's
scale-in stabilisation are in seconds. The 10 s policy is also replayed with a scale-in window of 15
datapoints (150 s), where the stabilisation alone keeps a scale-in from following a scale-out. The guarantee:
capacity changes per hour grow by no more than the datapoints do (6x). What the windows cost is measured, not
bounded, here (docs/time-to-act.md, "Faster signals and flapping").
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from chalicelib.alarm_evaluation import AlarmDefinition, ComparisonOperator
from chalicelib.backtest import Result, World, run_backtest, trace_from_rates
from chalicelib.models.targets import AsgTarget, CustomMetric, TargetTrackingPolicy
from marea_backtest.trace import load_trace

TRACE = Path(__file__).resolve().parents[2] / "bench" / "data" / "nasa_jul95.csv"
STEP_S = 10
HOURS = 12
TARGET_VALUE = 60.0
WORLD = World(
    kind="ec2",  # units boot for 4 minutes
    unit_capacity=10.0,
    target_utilization=TARGET_VALUE,
    max_units=200,
    start=datetime(2024, 1, 1, tzinfo=UTC),
)
TRIGGER = "web-cpu-above-target"


def _demand_every_10_s(minutes: tuple[float, ...]) -> list[float]:
    """Requests in each 10 s step, the rate linear between the minutes' values."""
    steps_per_minute = 60 // STEP_S
    demand = []
    for now, after in pairwise(minutes):
        demand += [
            (now + (after - now) * step / steps_per_minute) / steps_per_minute for step in range(steps_per_minute)
        ]
    return demand


# (metric period, scale-in window in datapoints: None for the default), as the replays are keyed
REPLAYS = ((60, None), (10, None), (10, 15))


def _target(period_s: int, scale_in_datapoints: int | None) -> AsgTarget:
    trigger = {"trigger_alarm": TRIGGER} if period_s < 60 else {}
    policy = TargetTrackingPolicy(
        name="load",
        metric=CustomMetric(namespace="Test", metric_name="CPUUtilization", period_s=period_s),
        target_value=TARGET_VALUE,
        scale_in_datapoints=scale_in_datapoints,
        **trigger,
    )
    return AsgTarget(id="web", asg_name="web", min=1, max=200, mode="act", policies=[policy])


def _trigger_alarm() -> AlarmDefinition:
    return AlarmDefinition(
        name=TRIGGER,
        arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{TRIGGER}",
        namespace="Test",
        metric_name="CPUUtilization",
        dimensions={},
        statistic="Average",
        period_s=STEP_S,
        evaluation_periods=3,
        datapoints_to_alarm=3,
        threshold=TARGET_VALUE,
        comparison_operator=ComparisonOperator.GREATER_THAN,
    )


def _moves(result: Result) -> list[tuple[int, int]]:
    """(second, +1 out / -1 in) of each capacity change."""
    units = (result.initial_units, *result.desired)
    return [
        (step * STEP_S, 1 if after > before else -1)
        for step, (before, after) in enumerate(pairwise(units))
        if after != before
    ]


Key = tuple[int, int | None]


@pytest.fixture(scope="module")
def replays() -> dict[Key, Result]:
    minutes = load_trace(TRACE).demand
    busiest = max(range(len(minutes) - HOURS * 60), key=lambda first: sum(minutes[first : first + HOURS * 60]))
    trace = trace_from_rates(
        "nasa-busiest-12h", _demand_every_10_s(minutes[busiest : busiest + HOURS * 60 + 1]), step_s=STEP_S
    )
    alarms = {TRIGGER: _trigger_alarm()}
    return {key: run_backtest(trace, _target(*key), WORLD, alarms=alarms) for key in REPLAYS}


@pytest.mark.parametrize("key", REPLAYS[1:], ids=["10s-default", "10s-150s-scale-in"])
def test_capacity_changes_grow_no_more_than_the_datapoints_do(replays: dict[Key, Result], key: Key) -> None:
    per_hour = {period: result.summary.scaling_actions / HOURS for period, result in replays.items()}

    assert replays[60, None].summary.scaling_actions > 10  # the trace moves: there is something to compare
    assert per_hour[key] <= 6 * per_hour[60, None], per_hour


def test_the_trigger_alarm_evaluates_the_10_s_policy_between_the_ticks(replays: dict[Key, Result]) -> None:
    """Without it the 10 s policy would act on the minute's ticks only, and this replay would not test it."""
    off_tick = [second for second, _ in _moves(replays[10, None]) if second % 60]

    assert off_tick
    assert not [second for second, _ in _moves(replays[60, None]) if second % 60]


@pytest.mark.parametrize("key", REPLAYS, ids=["60s", "10s-default", "10s-150s-scale-in"])
def test_no_scale_in_follows_a_scale_out_within_the_stabilisation_window(replays: dict[Key, Result], key: Key) -> None:
    """Scale-in goes to the highest proposal of the last scale_in_stabilization_s (300 s): a scale-out's proposal
    is among them, so no scale-in comes sooner after it, whatever the metric's resolution or window. With a
    150 s scale-in window only the stabilisation holds it (without it: 240 s)."""
    moves = _moves(replays[key])
    gaps = [later - at for (at, out), (later, again) in pairwise(moves) if out == 1 and again == -1]

    assert gaps  # the trace both rises and falls
    assert min(gaps) >= 300, sorted(gaps)[:5]
