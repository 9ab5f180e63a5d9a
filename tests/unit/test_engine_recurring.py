"""Predictive policy, hourly recurrence: a burst at the same minute of every hour is served when it
comes round (a floor from the lead before it until it has passed), not held all hour; anything
less certain (a burst missing from one hour, a gap in the data, a lone spike) is held as before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chalicelib.engine import decide, predictive, remember
from chalicelib.models.decisions import Action, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import Datapoint, Signal, TargetHistory
from chalicelib.models.targets import AsgTarget, CustomMetric, PredictivePolicy, Statistic

R = ReasonCode
REQUESTS = CustomMetric(namespace="AWS/ApplicationELB", metric_name="RequestCount", statistic=Statistic.SUM)
MINUTE = timedelta(minutes=1)
NOON = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)
HOURS_OF_HISTORY = 6


def policy(**overrides: object) -> PredictivePolicy:
    # 10 requests a minute per unit; 4 minutes to boot (ec2). No daily forecast: the hour is the point.
    fields: dict[str, object] = {
        "name": "load",
        "metric": REQUESTS,
        "unit_capacity": 10.0,
        "lead_s": 240,
        "history_days": 0,
    }
    fields.update(overrides)
    return PredictivePolicy.model_validate(fields)


def batch(at: datetime) -> float:
    """20 requests a minute, 200 in the first 3 minutes of every hour (a cron job): 3 units vs 20."""
    return 200.0 if at.minute < 3 else 20.0


def history(load: Callable[[datetime], float], now: datetime, hours: int = HOURS_OF_HISTORY) -> list[Datapoint]:
    start = now - hours * 60 * MINUTE
    return [Datapoint(timestamp=start + i * MINUTE, value=load(start + i * MINUTE)) for i in range(hours * 60)]


def sig(current: int, points: list[Datapoint]) -> Signal:
    return Signal(current_capacity=current, history={"load": points})


def test_given_a_burst_at_the_top_of_every_hour_when_half_past_then_capacity_goes_back_to_the_base() -> None:
    at = NOON + 30 * MINUTE

    result = predictive.propose(policy(), sig(20, history(batch, at)), at)

    # Before: the 12:00 burst, 30 minutes old, held 20 units until 13:00.
    assert (result.vote, result.proposed, result.floor) == (Vote.IN, 3, None)
    assert "bursts at :00, :01, :02 of each of the last 4 hours left out of mean and peak" in result.detail


def test_given_a_burst_at_the_top_of_every_hour_when_within_the_lead_then_a_floor_serves_it() -> None:
    at = NOON + 57 * MINUTE  # 13:00 is within 240 s + one period

    result = predictive.propose(policy(), sig(3, history(batch, at)), at)

    assert (result.vote, result.proposed, result.floor) == (Vote.HOLD, 3, 20)
    assert "200.0 due within 240 s: floor 20 until it has passed" in result.detail


def test_given_a_covered_peak_that_lets_the_bursts_go_when_within_the_lead_then_a_floor_still_serves_them() -> None:
    # 3 burst minutes an hour are few of the hour's stretches: a covered peak of 60 % lets them go,
    # and the recurrence is found from the busiest period all the same.
    at = NOON + 57 * MINUTE
    covered = policy(peak_quantile=0.6, surge_window_s=120, peak_window_s=7200)

    result = predictive.propose(covered, sig(3, history(batch, at)), at)

    assert (result.vote, result.proposed, result.floor) == (Vote.HOLD, 3, 20)


def test_given_a_burst_at_the_top_of_every_hour_when_before_the_lead_then_it_waits() -> None:
    at = NOON + 55 * MINUTE

    result = predictive.propose(policy(), sig(3, history(batch, at)), at)

    assert (result.proposed, result.floor) == (3, None)


def test_given_a_burst_under_way_when_it_is_larger_than_before_then_the_floor_rises_with_it() -> None:
    at = NOON + 61 * MINUTE  # 13:00 seen, 13:01 and 13:02 to come

    def bigger_now(t: datetime) -> float:
        return 300.0 if t == NOON + 60 * MINUTE else batch(t)

    steady = predictive.propose(policy(), sig(20, history(batch, at)), at)
    bigger = predictive.propose(policy(), sig(20, history(bigger_now, at)), at)

    assert (steady.vote, steady.proposed, steady.floor) == (Vote.IN, 3, 20)
    assert bigger.floor == 30


def test_given_a_burst_missing_from_one_of_the_last_4_hours_then_it_is_held_as_before() -> None:
    at = NOON + 30 * MINUTE

    def skipped_at_nine(t: datetime) -> float:
        return 20.0 if t.hour == 9 else batch(t)

    result = predictive.propose(policy(), sig(20, history(skipped_at_nine, at)), at)

    assert (result.vote, result.proposed, result.floor) == (Vote.HOLD, 20, None)
    assert "bursts" not in result.detail


def test_given_a_gap_in_the_history_then_nothing_is_taken_as_recurring() -> None:
    at = NOON + 30 * MINUTE
    points = history(batch, at)
    del points[-100]  # 10:50, within the 4 hours read

    result = predictive.propose(policy(), sig(20, points), at)

    assert (result.vote, result.proposed) == (Vote.HOLD, 20)


def test_given_a_spike_at_the_same_minute_once_then_it_is_held_for_the_hour() -> None:
    at = NOON + 30 * MINUTE

    def one_spike(t: datetime) -> float:
        return 200.0 if t == NOON + 10 * MINUTE else 20.0

    result = predictive.propose(policy(), sig(3, history(one_spike, at)), at)

    assert (result.vote, result.proposed) == (Vote.OUT, 20)


def test_given_a_burst_that_drifts_by_a_minute_then_it_still_recurs() -> None:
    at = NOON + 30 * MINUTE

    def drifting(t: datetime) -> float:
        return 200.0 if t.minute == t.hour % 2 else 20.0  # at :00 one hour, :01 the next

    result = predictive.propose(policy(), sig(20, history(drifting, at)), at)

    assert (result.vote, result.proposed) == (Vote.IN, 3)


def test_given_5_minute_periods_then_bursts_recur_by_period_of_the_hour() -> None:
    at = NOON + 30 * MINUTE
    start = at - HOURS_OF_HISTORY * 60 * MINUTE
    times = [start + i * 5 * MINUTE for i in range(HOURS_OF_HISTORY * 12)]
    five = [Datapoint(timestamp=t, value=1000.0 if t.minute == 0 else 100.0) for t in times]
    p = policy(metric=REQUESTS.model_copy(update={"period_s": 300}), unit_capacity=50.0, lead_s=300)

    result = predictive.propose(p, sig(20, five), at)

    # Base 100 per 5 minutes at 70 %: 3 units; the 1000 at :00 would need 20.
    assert (result.vote, result.proposed) == (Vote.IN, 3)


def test_given_a_target_when_replaying_an_hour_then_it_scales_out_before_the_burst_and_in_right_after() -> None:
    """Through decide and remember, with the recommended 1200 s stabilisation window: the burst's
    capacity is a floor, not a proposal, so the window does not hold it for 20 minutes after."""
    target = AsgTarget(id="web", asg_name="web-asg", min=1, max=50, policies=[policy()], scale_in_stabilization_s=1200)
    capacity, state, path, notes = 20, TargetHistory(), {}, {}
    for minute in range(30, 70):
        now = NOON + minute * MINUTE
        result = decide(target, sig(capacity, history(batch, now)), state, now)
        state = remember(state, target, result, applied=True, now=now)
        capacity, path[minute], notes[minute] = result.final, result.final, result
    assert path[30] == 3  # half past: back to the base at once
    assert [path[m] for m in (55, 56, 57, 60, 62)] == [3, 20, 20, 20, 20]  # from 4 minutes ahead of 13:00
    assert path[63] == 3  # 13:00-13:02 have passed
    assert notes[56].action is Action.OUT
    assert R.PREDICTED_BURST_FLOOR in notes[56].reasons
    assert "raised to 20 for a recurring burst" in notes[56].explanation
    assert "floor 20 until it has passed" in notes[56].explanation
    assert notes[63].action is Action.IN
    assert R.STABILIZATION not in notes[63].reasons
