"""Step scaling proposals: AWS step matching, adjustment types and percent rounding."""

from __future__ import annotations

import pytest

from chalicelib.engine import step_scaling
from chalicelib.models.decisions import Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmObservation, AlarmState, ComparisonOperator
from chalicelib.models.targets import AdjustmentType
from tests.unit.engine_factories import alarm, signal, step_policy

R = ReasonCode
PERCENT = AdjustmentType.PERCENT_CHANGE_IN_CAPACITY
EXACT = AdjustmentType.EXACT_CAPACITY
# Scale-out steps relative to a threshold: [0, 10) +1, [10, 20) +2, [20, inf) +3.
OUT_STEPS = ((0, 10, 1), (10, 20, 2), (20, None, 3))
# Scale-in steps below a threshold: (-inf, -10] -2, (-10, 0] -1.
IN_STEPS = ((None, -10, -2), (-10, 0, -1))


def test_given_aws_documented_percent_example_when_applied_twice_then_10_becomes_11_then_14() -> None:
    first = step_policy(adjustment_type=PERCENT, steps=((0, None, 10),))
    second = step_policy(adjustment_type=PERCENT, steps=((0, None, 30),))
    breaching = [alarm(AlarmState.ALARM, value=90, threshold=80)]

    after_first = step_scaling.propose(first, signal(10, alarms=breaching))
    after_second = step_scaling.propose(second, signal(after_first.proposed or 0, alarms=breaching))

    assert (after_first.proposed, after_second.proposed) == (11, 14)


@pytest.mark.parametrize(
    ("current", "percent", "min_magnitude", "change"),
    [
        pytest.param(10, 10, None, 1, id="exactly-1"),
        pytest.param(11, 30, None, 3, id="3.3-rounds-down"),
        pytest.param(5, 10, None, 1, id="0.5-becomes-1"),
        pytest.param(5, -10, None, -1, id="minus-0.5-becomes-minus-1"),
        pytest.param(30, -5, None, -1, id="minus-1.5-rounds-toward-zero"),
        pytest.param(20, -25, None, -5, id="minus-5-exact"),
        pytest.param(10, 0, None, 0, id="zero-stays-zero"),
        pytest.param(0, 50, None, 0, id="nothing-of-zero"),
        pytest.param(10, 10, 3, 3, id="min-magnitude-raises-out"),
        pytest.param(10, -10, 3, -3, id="min-magnitude-raises-in"),
        pytest.param(100, 50, 2, 50, id="min-magnitude-below-change-unused"),
        pytest.param(3, 33, None, 1, id="0.99-becomes-1-without-float-noise"),
    ],
)
def test_given_percent_change_when_rounding_then_aws_rules_apply(
    current: int, percent: int, min_magnitude: int | None, change: int
) -> None:
    assert step_scaling.percent_change(current, percent, min_magnitude) == change


@pytest.mark.parametrize(
    ("steps", "value", "proposed"),
    [
        pytest.param(OUT_STEPS, 80, 5, id="at-threshold-lower-bound-inclusive"),
        pytest.param(OUT_STEPS, 89.999, 5, id="just-below-10-first-step"),
        pytest.param(OUT_STEPS, 90, 6, id="upper-bound-exclusive-above-threshold"),
        pytest.param(OUT_STEPS, 100, 7, id="open-ended-top-step"),
        pytest.param(OUT_STEPS, 10_000, 7, id="far-above"),
        pytest.param(IN_STEPS, 25, 3, id="small-breach-below"),
        pytest.param(IN_STEPS, 20, 2, id="upper-bound-inclusive-below-threshold"),
        pytest.param(IN_STEPS, 19.999, 2, id="past-the-boundary"),
        pytest.param(IN_STEPS, -500, 2, id="open-ended-bottom-step"),
    ],
)
def test_given_breach_size_when_matching_steps_then_bounds_follow_aws(
    steps: tuple[tuple[float | None, float | None, int], ...], value: float, proposed: int
) -> None:
    threshold = 80 if steps is OUT_STEPS else 30
    policy = step_policy(steps=steps)

    result = step_scaling.propose(policy, signal(4, alarms=[alarm(AlarmState.ALARM, value, threshold)]))

    assert result.proposed == proposed
    assert result.reasons == [R.ALARM_BREACHING]
    assert result.observed == value


@pytest.mark.parametrize(
    ("steps", "comparison", "proposed"),
    [
        # A less-than-or-equal alarm in ALARM at its threshold is below it: the step (-10, 0] applies.
        pytest.param(IN_STEPS, ComparisonOperator.LESS_THAN_OR_EQUAL, 3, id="le-alarm-at-threshold-scales-in"),
        pytest.param(OUT_STEPS, ComparisonOperator.GREATER_THAN_OR_EQUAL, 5, id="ge-alarm-at-threshold-scales-out"),
        # The operator decides the side even where the value would say otherwise.
        pytest.param(IN_STEPS, ComparisonOperator.GREATER_THAN_OR_EQUAL, None, id="ge-alarm-never-reads-in-steps"),
        pytest.param(OUT_STEPS, ComparisonOperator.LESS_THAN_OR_EQUAL, None, id="le-alarm-never-reads-out-steps"),
        # Operator unknown (an event whose reason names none): at the threshold either side may hold.
        pytest.param(IN_STEPS, None, 3, id="unknown-operator-at-threshold-tries-below"),
        pytest.param(OUT_STEPS, None, 5, id="unknown-operator-at-threshold-tries-above"),
    ],
)
def test_given_an_alarm_at_its_threshold_when_matching_then_its_comparison_operator_picks_the_side(
    steps: tuple[tuple[float | None, float | None, int], ...],
    comparison: ComparisonOperator | None,
    proposed: int | None,
) -> None:
    observation = AlarmObservation(
        name="high-cpu", state=AlarmState.ALARM, value=30, threshold=30, comparison=comparison
    )

    result = step_scaling.propose(step_policy(steps=steps), signal(4, alarms=[observation]))

    assert result.proposed == proposed
    assert result.reasons == [R.ALARM_BREACHING if proposed is not None else R.NO_MATCHING_STEP]


def test_given_a_less_than_alarm_when_breach_is_exactly_a_bound_then_the_upper_bound_is_inclusive() -> None:
    # Below the threshold the lower bound is exclusive and the upper inclusive: 30 - 10 = 20 is in (-inf, -10].
    observation = AlarmObservation(
        name="high-cpu", state=AlarmState.ALARM, value=20, threshold=30, comparison=ComparisonOperator.LESS_THAN
    )

    result = step_scaling.propose(step_policy(steps=IN_STEPS), signal(4, alarms=[observation]))

    assert result.proposed == 2
    assert result.detail == "alarm 'high-cpu' at 20.0 (< threshold 30.0) matching step -2"


@pytest.mark.parametrize(
    ("observation", "vote", "reason"),
    [
        pytest.param(None, Vote.HOLD, R.INSUFFICIENT_DATA, id="alarm-not-observed"),
        pytest.param(alarm(AlarmState.INSUFFICIENT_DATA), Vote.HOLD, R.INSUFFICIENT_DATA, id="insufficient-data"),
        pytest.param(alarm(AlarmState.OK, 50, 80), Vote.ABSTAIN, R.ALARM_OK, id="ok-abstains"),
        pytest.param(alarm(AlarmState.ALARM, None, 80), Vote.HOLD, R.INSUFFICIENT_DATA, id="alarm-without-value"),
        pytest.param(alarm(AlarmState.ALARM, 90, None), Vote.HOLD, R.INSUFFICIENT_DATA, id="alarm-without-threshold"),
        pytest.param(alarm(AlarmState.ALARM, float("nan"), 80), Vote.HOLD, R.INSUFFICIENT_DATA, id="nan-value"),
    ],
)
def test_given_alarm_state_when_proposing_then_only_a_readable_alarm_acts(
    observation: AlarmObservation | None, vote: Vote, reason: ReasonCode
) -> None:
    alarms = [observation] if observation is not None else []

    result = step_scaling.propose(step_policy(), signal(4, alarms=alarms))

    assert (result.vote, result.proposed, result.reasons) == (vote, None, [reason])


@pytest.mark.parametrize(
    ("adjustment_type", "adjustment", "current", "vote", "proposed"),
    [
        pytest.param(AdjustmentType.CHANGE_IN_CAPACITY, 2, 4, Vote.OUT, 6, id="change-out"),
        pytest.param(AdjustmentType.CHANGE_IN_CAPACITY, -3, 4, Vote.IN, 1, id="change-in"),
        pytest.param(AdjustmentType.CHANGE_IN_CAPACITY, -9, 4, Vote.IN, 0, id="never-negative"),
        pytest.param(EXACT, 7, 4, Vote.OUT, 7, id="exact-up"),
        pytest.param(EXACT, 2, 4, Vote.IN, 2, id="exact-down"),
        pytest.param(EXACT, 4, 4, Vote.HOLD, 4, id="exact-same-holds"),
        pytest.param(PERCENT, 50, 4, Vote.OUT, 6, id="percent-up"),
    ],
)
def test_given_adjustment_type_when_breaching_then_vote_follows_the_proposal(
    adjustment_type: AdjustmentType, adjustment: int, current: int, vote: Vote, proposed: int
) -> None:
    policy = step_policy(adjustment_type=adjustment_type, steps=((None, None, adjustment),))

    result = step_scaling.propose(policy, signal(current, alarms=[alarm(AlarmState.ALARM, 90, 80)]))

    assert (result.vote, result.proposed, result.reasons) == (vote, proposed, [R.ALARM_BREACHING])


def test_given_breach_when_proposing_then_detail_names_alarm_value_and_step() -> None:
    policy = step_policy(steps=OUT_STEPS)

    result = step_scaling.propose(policy, signal(4, alarms=[alarm(AlarmState.ALARM, 95, 80)]))

    assert result.detail == "alarm 'high-cpu' at 95.0 (threshold 80.0) matching step +2"
