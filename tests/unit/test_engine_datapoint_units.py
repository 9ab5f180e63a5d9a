"""Target tracking sizes a datapoint by the units that served its period, not the units serving now.

A utilization datapoint averages the units that served its period and reaches the engine a period or
more later. Evaluations remember the units serving when the count changes (engine/serving.py); a
datapoint whose period began before the evaluation that first saw a count is sized from the count
before. docs/aws-semantics.md, "Units behind a datapoint".
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.engine import decide, remember
from chalicelib.engine.serving import MAX_SERVING_COUNTS, remember_serving
from chalicelib.models.decisions import Action, EngineResult
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import ServingCount, TargetHistory
from chalicelib.models.state import TargetState
from tests.unit.engine_factories import NOW, series, signal, target, tt_policy

MINUTE = timedelta(minutes=1)
# An Auto Scaling group tracking CPU at 70 %: 5 serving at 140 % need 10.
GROUP = target(tt_policy(target_value=70), max_capacity=40, scale_in_stabilization_s=0)


class Group:
    """Evaluations of GROUP a minute apart, each remembered as the Lambdas remember them."""

    def __init__(self, lag_min: int = 1) -> None:
        self.history = TargetHistory()
        self.at = NOW
        self.lag = lag_min * MINUTE  # how long after its period began a datapoint is the newest one read

    def evaluate(self, serving: int, current: int, values: list[float]) -> EngineResult:
        points = series(values, end=self.at - self.lag)
        result = decide(GROUP, signal(current, {"cpu": points}, serving=serving), self.history, self.at)
        self.history = remember(self.history, GROUP, result, applied=True, now=self.at)
        self.at += MINUTE
        return result


def scaled_out_to_10(group: Group, booting_min: int = 3) -> None:
    """5 serving at 140 % order 10; the 5 new instances boot for ``booting_min`` minutes."""
    assert group.evaluate(5, 5, [140] * 3).final == 10
    for _ in range(booting_min):
        assert group.evaluate(5, 10, [140] * 3).final == 10


@pytest.mark.parametrize("lag_min", [1, 3])
def test_given_booted_units_in_service_when_the_datapoint_predates_them_then_nothing_more_is_ordered(
    lag_min: int,
) -> None:
    group = Group(lag_min)
    scaled_out_to_10(group)

    # The 5 serve now; the datapoints read until one begins at or after this evaluation were measured over 5.
    first = group.evaluate(10, 10, [140] * 3)
    later = [group.evaluate(10, 10, [140] * 3) for _ in range(lag_min - 1)]

    assert [r.final for r in [first, *later]] == [10] * lag_min  # not ceil(10 x 140 / 70) = 20
    assert ReasonCode.SCALE_OUT_IN_PROGRESS in first.reasons
    assert "the 5 units that served the datapoint need 10; 5 more came into service since" in first.explanation
    # The first datapoint measured over the 10 is sized from them.
    assert group.evaluate(10, 10, [140] * 3).final == 20


def test_given_a_larger_need_when_the_datapoint_predates_the_new_units_then_it_is_sized_from_the_units_before() -> None:
    group = Group()
    scaled_out_to_10(group)

    result = group.evaluate(10, 10, [140, 140, 210])  # 5 at 210 %: 15

    assert (result.action, result.final) == (Action.OUT, 15)
    assert "sized from the 5 units that served the datapoint (need 15); 5 more came into service since" in (
        result.explanation
    )


def test_given_units_coming_into_service_over_two_evaluations_then_an_older_datapoint_is_sized_from_the_first() -> None:
    group = Group(lag_min=2)
    scaled_out_to_10(group)
    group.evaluate(8, 10, [140] * 3)  # 3 of the 5 serve first

    result = group.evaluate(10, 10, [140] * 3)  # its newest datapoint began before the 8 were seen

    assert result.final == 10  # from 5; the last count before this one (8) would order 16
    assert "the 5 units that served the datapoint need 10; 5 more came into service since" in result.explanation


def test_given_units_removed_since_the_window_when_scaling_in_then_it_is_sized_from_the_units_that_served_it() -> None:
    group = Group()
    for _ in range(3):
        group.evaluate(10, 10, [70] * 15)  # 10 on target
    assert group.evaluate(10, 10, [45] * 15).final == 7  # 10 at 45 %: ceil(6.4)

    # 7 serve now; the window was measured over the 10 before: 4.5 units of load still need 7, not 5.
    held = group.evaluate(7, 7, [45] * 15)

    assert (held.action, held.final) == (Action.NONE, 7)


def test_given_units_removed_since_the_window_when_the_load_fell_further_then_the_scale_in_says_its_base() -> None:
    group = Group()
    group.evaluate(10, 10, [70] * 15)
    assert group.evaluate(10, 10, [45] * 15).final == 7

    result = group.evaluate(7, 7, [30] * 15)  # 10 at 30 %: 3 units of load

    assert (result.action, result.final) == (Action.IN, 5)  # ceil(10 x 30 / 70); from the 7 serving it would be 3
    assert "sized from the 10 units that served the busiest of them (7 serve now)" in result.explanation


def test_given_units_that_left_service_when_scaling_out_then_their_load_still_counts() -> None:
    group = Group()
    group.evaluate(10, 10, [70] * 3)

    result = group.evaluate(8, 8, [80] * 3)  # 2 instances failed after the datapoint: 10 at 80 % is 8 units of load

    assert result.final == 12  # ceil(10 x 80 / 70); from the 8 serving it would be 10
    assert "sized from the 10 units that served the datapoint (need 12); 2 left service since" in result.explanation


def test_the_units_serving_are_remembered_when_they_change_as_far_back_as_the_policies_read() -> None:
    reach = tt_policy().lookback  # 20 one-minute periods

    def seen(*counts: tuple[int, int]) -> TargetHistory:
        return TargetHistory(serving_counts=[ServingCount(since=NOW - m * MINUTE, count=c) for m, c in counts])

    unchanged = seen((5, 4))
    assert remember_serving(unchanged, GROUP, 4, NOW) is unchanged.serving_counts
    kept = remember_serving(seen((40, 2), (30, 3), (10, 4)), GROUP, 5, NOW)
    # The count in force when the reach begins (3, since 30 min ago) stays; the one before it goes.
    assert [(NOW - c.since, c.count) for c in kept] == [(30 * MINUTE, 3), (10 * MINUTE, 4), (timedelta(0), 5)]
    assert reach == 20 * MINUTE
    many = TargetHistory(
        serving_counts=[ServingCount(since=NOW - MINUTE * m / 1000, count=m) for m in range(300, 0, -1)]
    )
    assert len(remember_serving(many, GROUP, 0, NOW)) == MAX_SERVING_COUNTS


def test_a_state_stored_before_the_units_serving_were_remembered_still_loads() -> None:
    stored = '{"history": {"last_scale_out": null, "recommendations": []}, "last_decision_id": "d1"}'

    state = TargetState.model_validate_json(stored)

    assert state.history.serving_counts == []
    # With nothing remembered, the datapoint is sized from the units serving now, as before.
    result = decide(GROUP, signal(10, {"cpu": series([140] * 3)}, serving=10), state.history, NOW)
    assert result.final == 20
