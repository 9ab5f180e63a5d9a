"""Predictive policy: reactive floors (level at target, recent peak at 100 %), seasonal forecast
over the provisioning lead time, the asymmetric confidence guard, and missing data."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.engine import decide, predictive
from chalicelib.models.decisions import Action, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import Datapoint, Signal, TargetHistory
from chalicelib.models.targets import AsgTarget, CustomMetric, PredictivePolicy, Statistic
from tests.unit.engine_factories import NOW

R = ReasonCode
REQUESTS = CustomMetric(namespace="AWS/ApplicationELB", metric_name="RequestCount", statistic=Statistic.SUM)
MINUTE = timedelta(minutes=1)
# A Monday 08:57 UTC, three full weeks after the start of the history below.
MONDAY_0857 = datetime(2024, 1, 22, 8, 57, tzinfo=UTC)


def policy(**overrides: object) -> PredictivePolicy:
    fields: dict[str, object] = {"name": "load", "metric": REQUESTS, "unit_capacity": 10.0, "lead_s": 240}
    fields.update(overrides)
    return PredictivePolicy.model_validate(fields)


def minutes(load: Callable[[datetime], float], end: datetime, count: int) -> list[Datapoint]:
    """One datapoint per finished minute before ``end``, oldest first."""
    return [
        Datapoint(timestamp=end - (count - i) * MINUTE, value=load(end - (count - i) * MINUTE)) for i in range(count)
    ]


def flat(value: float) -> Callable[[datetime], float]:
    return lambda _at: value


def sig(current: int, points: list[Datapoint], name: str = "load") -> Signal:
    return Signal(current_capacity=current, history={name: points})


def weekday_mornings(at: datetime) -> float:
    """20 requests a minute, 200 from 09:00 to 17:00 on weekdays."""
    return 200.0 if at.weekday() < 5 and 9 <= at.hour < 17 else 20.0


CASES = [
    pytest.param(flat(70), 5, Vote.OUT, 10, R.ABOVE_TARGET, id="mean-at-target-70/(10x0.7)"),
    pytest.param(flat(70), 10, Vote.HOLD, 10, R.WITHIN_TOLERANCE, id="sized-right-holds"),
    pytest.param(flat(35), 10, Vote.IN, 5, R.BELOW_TARGET, id="scales-in-at-once-to-what-is-needed"),
    pytest.param(flat(0), 3, Vote.IN, 0, R.BELOW_TARGET, id="no-load-needs-no-unit"),
]


@pytest.mark.parametrize(("load", "current", "vote", "proposed", "reason"), CASES)
def test_given_an_hour_of_load_when_proposing_then_the_mean_is_served_at_target(
    load: Callable[[datetime], float], current: int, vote: Vote, proposed: int, reason: ReasonCode
) -> None:
    result = predictive.propose(policy(history_days=0), sig(current, minutes(load, NOW, 60)), NOW)

    assert (result.vote, result.proposed, result.reasons) == (vote, proposed, [reason])
    assert result.policy_type == "predictive"


def test_given_a_spike_within_the_hour_when_proposing_then_it_is_served_at_full_utilization() -> None:
    points = minutes(flat(10), NOW, 60)
    points[20] = Datapoint(timestamp=points[20].timestamp, value=195.0)

    result = predictive.propose(policy(history_days=0), sig(2, points), NOW)

    assert (result.vote, result.proposed) == (Vote.OUT, 20)


def test_given_a_spike_older_than_the_peak_window_when_proposing_then_it_is_forgotten() -> None:
    points = minutes(flat(10), NOW, 120)
    points[10] = Datapoint(timestamp=points[10].timestamp, value=195.0)

    result = predictive.propose(policy(history_days=0), sig(20, points), NOW)

    assert (result.vote, result.proposed) == (Vote.IN, 2)


def test_given_a_surge_in_the_last_minute_when_proposing_then_it_scales_out_at_once() -> None:
    points = [*minutes(flat(10), NOW, 59), Datapoint(timestamp=NOW - MINUTE, value=400.0)]

    result = predictive.propose(policy(history_days=0), sig(2, points), NOW)

    assert (result.vote, result.proposed) == (Vote.OUT, 40)


COVERED = {"peak_quantile": 0.6, "surge_window_s": 120, "history_days": 0}


def test_given_a_quantile_when_one_spike_stood_out_in_the_window_then_it_is_let_go() -> None:
    # 10 a minute, one minute at 195 half an hour ago: the busiest-period rule holds 20 units for
    # it; 60 % of the 5-minute stretches saw at most 10, so the mean at target (2 units) decides.
    points = minutes(flat(10), NOW, 60)
    points[30] = Datapoint(timestamp=points[30].timestamp, value=195.0)

    held = predictive.propose(policy(history_days=0), sig(20, points), NOW)
    covered = predictive.propose(policy(**COVERED), sig(20, points), NOW)

    assert (held.vote, held.proposed) == (Vote.HOLD, 20)
    assert (covered.vote, covered.proposed) == (Vote.IN, 2)
    assert "covered peak (60 % of the 300 s stretches of 3600 s, busiest of the last 120 s) 10.0" in covered.detail


def test_given_a_quantile_when_spikes_fill_most_stretches_then_their_load_is_covered() -> None:
    # A spike every 4 minutes: every 5-minute stretch holds one, so covering 60 % of them is 195.
    points = [
        Datapoint(timestamp=p.timestamp, value=195.0 if i % 4 == 0 else 10.0)
        for i, p in enumerate(minutes(flat(10), NOW, 60))
    ]

    result = predictive.propose(policy(**COVERED), sig(2, points), NOW)

    assert (result.vote, result.proposed) == (Vote.OUT, 20)


def test_given_a_quantile_when_a_surge_starts_in_the_last_minute_then_it_still_scales_out_at_once() -> None:
    points = [*minutes(flat(10), NOW, 59), Datapoint(timestamp=NOW - MINUTE, value=400.0)]

    result = predictive.propose(policy(**COVERED), sig(2, points), NOW)

    assert (result.vote, result.proposed) == (Vote.OUT, 40)


def test_given_a_surge_window_shorter_than_the_metric_period_then_the_policy_is_invalid() -> None:
    with pytest.raises(ValueError, match="surge_window_s"):
        policy(surge_window_s=30)


def test_given_a_lead_between_periods_then_the_sentence_names_the_stretch_it_covers() -> None:
    # 5-minute periods, a 240 s lead: a stretch is the period under way and the next, 600 s.
    five_minutes = REQUESTS.model_copy(update={"period_s": 300})
    p = policy(metric=five_minutes, peak_quantile=0.6, history_days=0)
    points = [Datapoint(timestamp=NOW - (12 - i) * 5 * MINUTE, value=50.0) for i in range(12)]

    assert "60 % of the 600 s stretches" in predictive.propose(p, sig(2, points), NOW).detail


@pytest.mark.parametrize("quantile", [0.0, 1.01])
def test_given_a_peak_quantile_outside_0_1_then_the_policy_is_invalid(quantile: float) -> None:
    with pytest.raises(ValueError, match="peak_quantile"):
        policy(peak_quantile=quantile)


def test_given_no_datapoints_when_proposing_then_it_holds_without_an_opinion() -> None:
    result = predictive.propose(policy(), sig(4, []), NOW)

    assert (result.vote, result.proposed, result.reasons) == (Vote.HOLD, None, [R.INSUFFICIENT_DATA])


def test_given_datapoints_that_stopped_when_proposing_then_stale_data_holds() -> None:
    result = predictive.propose(policy(), sig(9, minutes(flat(5), NOW - 10 * MINUTE, 60)), NOW)

    assert (result.vote, result.proposed, result.reasons) == (Vote.HOLD, None, [R.STALE_DATA])


def test_given_too_little_of_the_peak_window_when_load_fell_then_it_does_not_scale_in() -> None:
    result = predictive.propose(policy(history_days=0), sig(10, minutes(flat(7), NOW, 20)), NOW)

    assert (result.vote, result.proposed, result.reasons) == (Vote.HOLD, 10, [R.INSUFFICIENT_DATA])


def test_given_too_little_data_when_load_rose_then_it_still_scales_out() -> None:
    result = predictive.propose(policy(history_days=0), sig(1, minutes(flat(70), NOW, 5)), NOW)

    assert (result.vote, result.proposed) == (Vote.OUT, 10)


def test_given_the_minute_in_progress_when_proposing_then_its_partial_count_is_ignored() -> None:
    points = [*minutes(flat(70), NOW, 60), Datapoint(timestamp=NOW, value=1.0)]

    result = predictive.propose(policy(history_days=0), sig(10, points), NOW)

    assert (result.vote, result.observed) == (Vote.HOLD, 70.0)


def test_given_weekday_mornings_when_monday_0857_then_it_prescales_for_0900() -> None:
    history = minutes(weekday_mornings, MONDAY_0857, 21 * 1440)

    result = predictive.propose(policy(), sig(3, history), MONDAY_0857)

    # 09:00 is within the 4-minute lead: 200 requests a minute would not fit in 3 units even at
    # 100 %, so the rise is pre-scaled for, at target like the load of now: 200 / (10 x 0.7) = 29.
    assert (result.vote, result.proposed, result.reasons) == (Vote.OUT, 29, [R.FORECAST_RISE])
    assert "same weekday 1 and 2 weeks ago" in result.detail


def test_given_a_rise_the_headroom_absorbs_when_0857_then_it_is_left_to_the_level() -> None:
    # Weekday mornings from 20 to 26 a minute: 26 fits in 3 units of 10 at 100 %, so no unit is
    # ordered ahead of it (the mean at target will ask for 4 once the load is there).
    def mild_mornings(at: datetime) -> float:
        return 26.0 if at.weekday() < 5 and 9 <= at.hour < 17 else 20.0

    history = minutes(mild_mornings, MONDAY_0857, 21 * 1440)

    result = predictive.propose(policy(), sig(3, history), MONDAY_0857)

    assert (result.vote, result.proposed) == (Vote.HOLD, 3)


def test_given_weekday_mornings_when_saturday_0857_then_it_does_not_prescale() -> None:
    saturday = MONDAY_0857 - timedelta(days=2)
    history = minutes(weekday_mornings, saturday, 15 * 1440)

    result = predictive.propose(policy(), sig(3, history), saturday)

    assert (result.vote, result.proposed) == (Vote.HOLD, 3)


def test_given_weekday_mornings_when_0850_then_it_waits_for_the_lead_time() -> None:
    at = MONDAY_0857 - 7 * MINUTE
    history = minutes(weekday_mornings, at, 21 * 1440)

    result = predictive.propose(policy(), sig(3, history), at)

    assert result.vote is Vote.HOLD


def test_given_one_week_only_when_monday_0857_then_recent_days_and_last_week_agree() -> None:
    history = minutes(weekday_mornings, MONDAY_0857, 8 * 1440)

    result = predictive.propose(policy(), sig(3, history), MONDAY_0857)

    assert result.vote is Vote.OUT
    assert "median of 5 previous days and the same weekday last week" in result.detail


def test_given_reference_weeks_that_disagree_then_no_prescale_and_no_scale_in() -> None:
    def only_last_monday(at: datetime) -> float:
        return 200.0 if MONDAY_0857 - timedelta(days=7) <= at < MONDAY_0857 - timedelta(days=6) and at.hour >= 9 else 20

    history = minutes(only_last_monday, MONDAY_0857, 15 * 1440)

    result = predictive.propose(policy(), sig(5, history), MONDAY_0857)

    # Needs 3 now; one reference week rose at 09:00, the other did not: hold, do not scale in.
    assert (result.vote, result.proposed, result.reasons) == (Vote.HOLD, 5, [R.FORECAST_RISE])


def test_given_history_days_zero_then_there_is_no_forecast() -> None:
    history = minutes(weekday_mornings, MONDAY_0857, 21 * 1440)

    result = predictive.propose(policy(history_days=0), sig(3, history), MONDAY_0857)

    assert (result.vote, result.proposed) == (Vote.HOLD, 3)


def test_given_a_dst_change_then_yesterday_is_the_same_local_clock_time() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    after_change = datetime(2024, 3, 31, 9, 0, tzinfo=madrid)  # summer time started at 02:00 that night

    yesterday = predictive._same_local_time(after_change.astimezone(UTC), 1, madrid)

    assert yesterday.astimezone(madrid).replace(tzinfo=None) == datetime(2024, 3, 30, 9, 0)
    assert after_change - yesterday == timedelta(hours=23)


def test_given_a_predictive_target_when_deciding_then_the_engine_scales_and_explains() -> None:
    target = AsgTarget(id="web", asg_name="web-asg", min=1, max=50, policies=[policy()])

    result = decide(target, sig(3, minutes(weekday_mornings, MONDAY_0857, 21 * 1440)), TargetHistory(), MONDAY_0857)

    assert result.action is Action.OUT
    assert R.FORECAST_RISE in result.reasons
    assert "forecast" in result.explanation


def test_given_a_signal_with_history_when_dumped_then_the_history_is_left_out() -> None:
    dumped = sig(3, minutes(flat(1), NOW, 3)).model_dump(mode="json")

    assert "history" not in dumped


def test_given_windows_shorter_than_the_metric_period_then_the_policy_is_invalid() -> None:
    with pytest.raises(ValueError, match="at least one metric period"):
        policy(metric=REQUESTS.model_copy(update={"period_s": 300}), level_window_s=120)


# --- properties --------------------------------------------------------------------------------

loads = st.lists(st.floats(min_value=0, max_value=1_000, allow_nan=False), min_size=1, max_size=90)


@settings(max_examples=150, deadline=None)
@given(values=loads, current=st.integers(0, 200), utilization=st.floats(min_value=10, max_value=100))
def test_property_any_size_proposed_serves_the_recent_peak_and_the_mean_at_target(
    values: list[float], current: int, utilization: float
) -> None:
    p = policy(history_days=0, target_utilization=utilization)
    points = [Datapoint(timestamp=NOW - (len(values) - i) * MINUTE, value=v) for i, v in enumerate(values)]

    result = predictive.propose(p, sig(current, points), NOW)

    if result.vote in (Vote.OUT, Vote.IN):
        assert result.proposed is not None
        assert result.proposed * p.unit_capacity >= max(values[-60:]) - 1e-6
        assert result.proposed * p.unit_capacity * utilization / 100 >= sum(values[-15:]) / len(values[-15:]) - 1e-6
    if result.vote is Vote.IN:
        assert len(values[-60:]) >= 30  # never scales in on less than half an hour of data


@settings(max_examples=100, deadline=None)
@given(values=loads, factor=st.floats(min_value=1, max_value=10), current=st.integers(0, 50))
def test_property_more_load_never_asks_for_fewer_units(values: list[float], factor: float, current: int) -> None:
    def propose(scale: float) -> int:
        points = [Datapoint(timestamp=NOW - (len(values) - i) * MINUTE, value=v * scale) for i, v in enumerate(values)]
        result = predictive.propose(policy(history_days=0), sig(current, points), NOW)
        return current if result.proposed is None else result.proposed

    assert propose(factor) >= propose(1.0)


@settings(max_examples=150, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 500), min_size=0, max_size=120, unique=True),
    start=st.integers(-50, 520),
    length=st.integers(0, 200),
    now_offset=st.integers(0, 520),
)
def test_property_series_view_finds_the_same_points_as_a_scan(
    offsets: list[int], start: int, length: int, now_offset: int
) -> None:
    base = NOW - timedelta(minutes=500)
    points = [Datapoint(timestamp=base + m * MINUTE, value=float(m)) for m in sorted(offsets)]
    now = base + now_offset * MINUTE
    view = predictive.SeriesView(points, now, 60)
    low, high = base + start * MINUTE, base + (start + length) * MINUTE

    found = view.values(low, high)

    expected = [p.value for p in points if low <= p.timestamp < high and p.timestamp + MINUTE <= now]
    assert found == expected
    assert math.isclose(sum(found), sum(expected))
