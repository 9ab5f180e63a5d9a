"""Faster signals must not mean flapping: the engine's stabilisation at 10 s resolution (issue #18, part 3).

A real minute trace (the NASA July 1995 logs, bench/data) is interpolated to 10 s and replayed through the
engine the Lambdas run (``decide`` then ``remember``) in a small world: units boot for 4 minutes (EC2), the
metric is the serving units' utilization, averaged per period of the policy's metric. The same target-tracking
policy, with Marea's defaults, is evaluated at the close of every datapoint: every 10 s with a 10 s metric (as
a trigger alarm could wake it, the most often it can run), every minute with a 1-minute one. Its windows count
datapoints, so at 10 s they are six times shorter in time; the cooldowns and the target's scale-in
stabilisation are in seconds and are not. The guarantee: capacity changes per hour grow by no more than the
datapoints do (6x). What the shorter windows cost is measured, not bounded, here (docs/time-to-act.md, "Faster
signals and flapping").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from chalicelib.backtest.world import Fleet
from chalicelib.engine import decide, remember
from chalicelib.models.signals import Datapoint, ResourceBounds, Signal, TargetHistory
from chalicelib.models.targets import AsgTarget, CustomMetric, TargetTrackingPolicy
from marea_backtest.trace import load_trace

TRACE = Path(__file__).resolve().parents[2] / "bench" / "data" / "nasa_jul95.csv"
START = datetime(2024, 1, 1, tzinfo=UTC)
STEP_S = 10
HOURS = 12
UNIT_CAPACITY = 10.0  # requests per minute one unit serves at 100 %
BOOT_S = 240  # EC2: about four minutes from order to serving


@dataclass
class Replay:
    changes: int
    unit_seconds: float
    overloaded_seconds: int
    moves: list[tuple[int, int]]  # (second, +1 out / -1 in) of each capacity change


def _demand_every_10_s(minutes: tuple[float, ...]) -> list[float]:
    """Requests per minute at each 10 s step, linear between the minutes' values."""
    steps_per_minute = 60 // STEP_S
    demand = []
    for now, after in pairwise(minutes):
        demand += [now + (after - now) * step / steps_per_minute for step in range(steps_per_minute)]
    return demand


def _replay(period_s: int, demand: list[float]) -> Replay:
    policy = TargetTrackingPolicy(
        name="load",
        metric=CustomMetric(namespace="Test", metric_name="CPUUtilization", period_s=period_s),
        target_value=60,
    )
    target = AsgTarget(id="web", asg_name="web", min=1, max=200, mode="act", policies=[policy])
    lookback = policy.lookback // timedelta(seconds=period_s)
    history = TargetHistory()
    fleet = Fleet(ready=8)  # the backtest's units, counted here in 10 s steps rather than minutes
    series: list[Datapoint] = []
    period_values: list[float] = []
    changes, unit_seconds, overloaded = 0, 0.0, 0
    moves: list[tuple[int, int]] = []
    for step, load in enumerate(demand):
        fleet.advance(step)
        ready, desired = fleet.ready, fleet.desired
        unit_seconds += desired * STEP_S
        overloaded += STEP_S if load > ready * UNIT_CAPACITY else 0
        period_values.append(100 * load / (ready * UNIT_CAPACITY))
        if (step + 1) * STEP_S % period_s:
            continue
        # The period closed: its datapoint, stamped at its start, and an evaluation as its alarm would trigger.
        now = START + timedelta(seconds=(step + 1) * STEP_S)
        series.append(
            Datapoint(timestamp=now - timedelta(seconds=period_s), value=sum(period_values) / len(period_values))
        )
        period_values = []
        signal = Signal.model_construct(
            current_capacity=desired,
            serving_capacity=ready,
            metrics={"load": series[-lookback:]},
            alarms={},
            resource_bounds=ResourceBounds(),
            scale_in_suspended=None,
            history={},
        )
        result = decide(target, signal, history, now)
        history = remember(history, target, result, applied=True, now=now)
        if result.final != desired:
            changes += 1
            moves.append(((step + 1) * STEP_S, 1 if result.final > desired else -1))
            fleet.order(result.final, step + 1, BOOT_S // STEP_S)  # scale-in cancels booting units first
    return Replay(changes, unit_seconds, overloaded, moves)


@pytest.fixture(scope="module")
def replays() -> dict[int, Replay]:
    minutes = load_trace(TRACE).demand
    busiest = max(range(len(minutes) - HOURS * 60), key=lambda first: sum(minutes[first : first + HOURS * 60]))
    demand = _demand_every_10_s(minutes[busiest : busiest + HOURS * 60 + 1])
    return {period_s: _replay(period_s, demand) for period_s in (60, 10)}


def test_capacity_changes_grow_no_more_than_the_datapoints_do(replays: dict[int, Replay]) -> None:
    per_hour = {period: replay.changes / HOURS for period, replay in replays.items()}

    assert replays[60].changes > 0  # the trace moves: there is something to compare
    assert per_hour[10] <= 6 * per_hour[60], per_hour


@pytest.mark.parametrize("period_s", [60, 10])
def test_no_scale_in_follows_a_scale_out_within_the_stabilisation_window(
    replays: dict[int, Replay], period_s: int
) -> None:
    """Scale-in goes to the highest proposal of the last scale_in_stabilization_s (300 s): a scale-out's proposal
    is among them, so no scale-in comes sooner after it, whatever the metric's resolution."""
    moves = replays[period_s].moves
    gaps = [later - at for (at, out), (later, again) in pairwise(moves) if out == 1 and again == -1]

    assert gaps  # the trace both rises and falls
    assert min(gaps) >= 300, sorted(gaps)[:5]
