"""Target tracking proposals: proportional scale-out, conservative scale-in, never on missing data."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from chalicelib.engine import target_tracking
from chalicelib.models.decisions import Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import Datapoint
from chalicelib.models.targets import MAX_CAPACITY_LIMIT
from tests.unit.engine_factories import NOW, custom_metric, series, signal, tt_policy

R = ReasonCode

# values (oldest first, last at NOW), current, expected vote, expected proposal, expected reason
CASES = [
    pytest.param([92, 92, 92], 2, Vote.OUT, 4, R.ABOVE_TARGET, id="3-above-scales-out-proportionally"),
    pytest.param([61, 61, 61], 1, Vote.OUT, 2, R.ABOVE_TARGET, id="barely-above-adds-at-least-one"),
    pytest.param([60.5] * 3, 10, Vote.OUT, 11, R.ABOVE_TARGET, id="ceil-rounds-up"),
    pytest.param([120] * 3, 0, Vote.OUT, 2, R.ABOVE_TARGET, id="scales-from-zero-as-if-one"),
    pytest.param([30, 92, 92, 92], 2, Vote.OUT, 4, R.ABOVE_TARGET, id="only-the-last-3-count"),
    pytest.param([92, 92, 50], 2, Vote.HOLD, 2, R.WITHIN_TOLERANCE, id="spike-that-ended-holds"),
    pytest.param([92, 92], 2, Vote.HOLD, None, R.INSUFFICIENT_DATA, id="too-few-above-is-insufficient"),
    pytest.param([55] * 15, 4, Vote.HOLD, 4, R.WITHIN_TOLERANCE, id="inside-the-10pct-band-holds"),
    pytest.param([60] * 20, 4, Vote.HOLD, 4, R.WITHIN_TOLERANCE, id="exactly-at-target-holds"),
    pytest.param([30] * 15, 6, Vote.IN, 3, R.BELOW_TARGET, id="15-below-scales-in"),
    pytest.param([30] * 14 + [50], 6, Vote.IN, 5, R.BELOW_TARGET, id="scale-in-sized-for-window-peak"),
    pytest.param([20] * 14 + [50], 6, Vote.IN, 5, R.BELOW_TARGET, id="peak-may-be-latest"),
    pytest.param([50] + [20] * 14, 6, Vote.IN, 5, R.BELOW_TARGET, id="peak-may-be-oldest"),
    pytest.param([58] + [20] * 15, 6, Vote.IN, 2, R.BELOW_TARGET, id="points-before-the-window-ignored"),
    pytest.param([30] * 15, 1, Vote.HOLD, 1, R.WITHIN_TOLERANCE, id="cannot-go-below-what-is-needed"),
    pytest.param([30] * 14 + [56], 6, Vote.HOLD, 6, R.WITHIN_TOLERANCE, id="one-point-in-band-blocks-scale-in"),
    pytest.param([30] * 5, 6, Vote.HOLD, None, R.INSUFFICIENT_DATA, id="too-few-below-is-insufficient"),
    pytest.param([0] * 15, 3, Vote.IN, 0, R.BELOW_TARGET, id="idle-queue-scales-to-zero"),
]


@pytest.mark.parametrize(("values", "current", "vote", "proposed", "reason"), CASES)
def test_given_datapoints_when_proposing_then_vote_and_capacity_follow_aws_rules(
    values: list[float], current: int, vote: Vote, proposed: int | None, reason: ReasonCode
) -> None:
    result = target_tracking.propose(tt_policy(), signal(current, {"cpu": series(values)}), NOW)

    assert (result.vote, result.proposed, result.reasons) == (vote, proposed, [reason])
    assert result.policy == "cpu"
    assert result.policy_type == "target_tracking"


@pytest.mark.parametrize(
    ("target_value", "values", "current", "proposed"),
    [
        pytest.param(0.7, [2.1] * 3, 1, 3, id="out-1x2.1/0.7-is-3.0000000000000004"),
        pytest.param(0.3, [0.1] * 15, 3, 1, id="in-3x0.1/0.3-is-1.0000000000000002"),
    ],
)
def test_given_float_noise_when_rounding_up_then_epsilon_keeps_the_exact_capacity(
    target_value: float, values: list[float], current: int, proposed: int
) -> None:
    policy = tt_policy(target_value=target_value)

    result = target_tracking.propose(policy, signal(current, {"cpu": series(values)}), NOW)

    assert result.proposed == proposed


def test_given_scale_out_when_proposing_then_detail_names_metric_target_and_window() -> None:
    policy = tt_policy(metric=custom_metric("CPUUtilization"))

    result = target_tracking.propose(policy, signal(2, {"cpu": series([92, 92, 92])}), NOW)

    assert result.detail == "CPUUtilization 92.0 > target 60.0 for 3 datapoints"
    assert result.observed == 92


def test_given_no_datapoints_when_proposing_then_hold_without_opinion() -> None:
    result = target_tracking.propose(tt_policy(), signal(4), NOW)

    assert (result.vote, result.proposed, result.reasons) == (Vote.HOLD, None, [R.INSUFFICIENT_DATA])


@pytest.mark.parametrize(
    ("period_s", "age_s", "stale"),
    [
        pytest.param(60, 180, False, id="predefined-3-periods-old-is-fresh"),
        pytest.param(60, 181, True, id="predefined-over-3-periods-is-stale"),
        pytest.param(300, 600, False, id="5-minute-metric-10-minutes-old-is-fresh"),
        pytest.param(300, 901, True, id="5-minute-metric-over-15-minutes-is-stale"),
    ],
)
def test_given_old_datapoints_when_proposing_then_stale_after_three_periods(
    period_s: int, age_s: int, stale: bool
) -> None:
    policy = tt_policy(metric=custom_metric(period_s=period_s)) if period_s != 60 else tt_policy()
    points = series([10] * 20, end=NOW - timedelta(seconds=age_s), period_s=period_s)

    result = target_tracking.propose(policy, signal(6, {"cpu": points}), NOW)

    assert (R.STALE_DATA in result.reasons) is stale
    assert result.vote is (Vote.HOLD if stale else Vote.IN)


def test_given_points_after_now_when_proposing_then_they_are_ignored() -> None:
    future = [Datapoint(timestamp=NOW + timedelta(minutes=m), value=500) for m in (1, 2, 3)]

    result = target_tracking.propose(tt_policy(), signal(4, {"cpu": series([55] * 15) + future}), NOW)

    assert result.vote is Vote.HOLD
    assert result.observed == 55


def test_given_unsorted_points_when_proposing_then_order_is_by_timestamp() -> None:
    points = list(reversed(series([92, 92, 92])))

    result = target_tracking.propose(tt_policy(), signal(2, {"cpu": points}), NOW)

    assert result.vote is Vote.OUT


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_given_non_finite_points_when_proposing_then_they_count_as_missing(bad: float) -> None:
    result = target_tracking.propose(tt_policy(), signal(4, {"cpu": series([bad] * 3)}), NOW)

    assert (result.vote, result.reasons) == (Vote.HOLD, [R.INSUFFICIENT_DATA])


@pytest.mark.parametrize(
    "values", [[5] * 15, [55] * 15, [50] * 13 + [70] * 2], ids=["low", "within-tolerance", "briefly-high"]
)
def test_given_scale_in_disabled_when_not_scaling_out_then_it_abstains(values: list[float]) -> None:
    policy = tt_policy(disable_scale_in=True)

    result = target_tracking.propose(policy, signal(6, {"cpu": series(values)}), NOW)

    assert (result.vote, result.proposed, result.reasons) == (Vote.ABSTAIN, None, [R.SCALE_IN_DISABLED])


def test_given_custom_windows_when_proposing_then_they_replace_aws_defaults() -> None:
    policy = tt_policy(scale_out_datapoints=1, scale_in_datapoints=2, scale_in_margin=0.0)

    out = target_tracking.propose(policy, signal(2, {"cpu": series([90])}), NOW)
    inward = target_tracking.propose(policy, signal(4, {"cpu": series([59, 59])}), NOW)

    assert (out.vote, out.proposed) == (Vote.OUT, 3)
    assert (inward.vote, inward.proposed) == (Vote.HOLD, 4)  # ceil(4 x 59 / 60) = 4: nothing to remove


def test_given_absurd_metric_when_proposing_then_capacity_is_capped_not_crashing() -> None:
    policy = tt_policy(target_value=1e-300)

    result = target_tracking.propose(policy, signal(5, {"cpu": series([1e300] * 3)}), NOW)

    assert result.vote is Vote.OUT
    assert result.proposed == MAX_CAPACITY_LIMIT


# values, desired, serving, expected vote, proposal, reason: the metric is measured over serving units
SERVING_CASES = [
    pytest.param([120] * 3, 4, 2, Vote.HOLD, 4, R.SCALE_OUT_IN_PROGRESS, id="booting-units-already-cover-it"),
    pytest.param([150] * 3, 4, 2, Vote.OUT, 5, R.ABOVE_TARGET, id="booting-units-cover-part-of-it"),
    pytest.param([120] * 3, 4, 4, Vote.OUT, 8, R.ABOVE_TARGET, id="all-serving-sizes-as-before"),
    pytest.param([120] * 3, 2, 4, Vote.OUT, 8, R.ABOVE_TARGET, id="scale-in-under-way-counts-the-load-served"),
    pytest.param([120] * 3, 1, 0, Vote.OUT, 2, R.ABOVE_TARGET, id="none-serving-grows-as-if-one"),
    # Scale-in too is sized from the units the metric was averaged over: ceil(3 x 30 / 60) = 2, and 20
    # running at 30 % while 10 are desired (a deployment) need 10: no scale-in to ceil(10 x 30 / 60) = 5.
    pytest.param([30] * 15, 6, 3, Vote.IN, 2, R.BELOW_TARGET, id="scale-in-sized-from-the-units-serving"),
    pytest.param([30] * 15, 10, 20, Vote.HOLD, 10, R.WITHIN_TOLERANCE, id="deployment-running-more-than-desired"),
]


@pytest.mark.parametrize(("values", "current", "serving", "vote", "proposed", "reason"), SERVING_CASES)
def test_given_units_still_starting_when_scaling_out_then_they_count_toward_the_need(
    values: list[float], current: int, serving: int, vote: Vote, proposed: int, reason: ReasonCode
) -> None:
    result = target_tracking.propose(tt_policy(), signal(current, {"cpu": series(values)}, serving=serving), NOW)

    assert (result.vote, result.proposed, result.reasons) == (vote, proposed, [reason])


def test_given_units_starting_when_holding_then_the_detail_says_how_many() -> None:
    result = target_tracking.propose(tt_policy(), signal(4, {"cpu": series([120] * 3)}, serving=2), NOW)

    assert "2 serving need 4, 2 more already starting" in result.detail


@pytest.mark.parametrize("missing", [1, 3, 6])
def test_given_missing_high_resolution_datapoints_when_proposing_then_they_never_count_toward_a_scale_in(
    missing: int,
) -> None:
    """A 10 s metric whose scale-in window lacks datapoints: the ones that arrived are all below, but a missing one
    is no vote for less capacity, so the window is not full and the policy holds."""
    policy = tt_policy(metric=custom_metric(period_s=10), scale_in_datapoints=15)
    points = series([10] * 15, period_s=10)
    holes = set(range(1, 1 + 2 * missing, 2))  # every other datapoint inside the window, the newest kept
    present = [p for index, p in enumerate(points) if index not in holes]

    held = target_tracking.propose(policy, signal(6, {"cpu": present}), NOW)
    full = target_tracking.propose(policy, signal(6, {"cpu": points}), NOW)

    assert (held.vote, held.reasons) == (Vote.HOLD, [R.INSUFFICIENT_DATA])
    assert full.vote is Vote.IN  # the same window, complete, scales in
