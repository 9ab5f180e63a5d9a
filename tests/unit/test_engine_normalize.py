"""Normalisation: pause, stabilisation window, cooldowns, then bounds (target > schedule > resource)."""

from __future__ import annotations

import pytest

from chalicelib.engine import decide
from chalicelib.engine.normalize import BoundSource, effective_bounds
from chalicelib.models.decisions import Action, PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmState, Datapoint, ResourceBounds, TargetHistory
from tests.unit.engine_factories import (
    NOW,
    action,
    alarm,
    ecs_target,
    history,
    scheduled_policy,
    series,
    signal,
    step_policy,
    target,
    tt_policy,
)

R = ReasonCode
LOW = {"cpu": series([30] * 15)}  # target tracking at 60 asks 6 -> 3
HIGH = {"cpu": series([92] * 3)}  # asks 4 -> 7
STEADY = {"cpu": series([55] * 15)}


# --- stabilisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recommendations", "window_s", "final", "stabilised"),
    [
        pytest.param([], 300, 3, False, id="empty-window-scales-in"),
        pytest.param([(200, 5)], 300, 5, True, id="recent-higher-recommendation-holds-it-up"),
        pytest.param([(200, 5), (100, 4)], 300, 5, True, id="max-of-the-window"),
        pytest.param([(301, 6)], 300, 3, False, id="older-than-window-ignored"),
        pytest.param([(200, 9)], 300, 6, True, id="never-above-current"),
        pytest.param([(200, 2)], 300, 3, False, id="lower-recommendations-do-not-lower"),
        pytest.param([(10, 6)], 0, 3, False, id="window-zero-disables"),
    ],
)
def test_given_recent_recommendations_when_scaling_in_then_the_window_max_is_taken(
    recommendations: list[tuple[float, int]], window_s: int, final: int, stabilised: bool
) -> None:
    result = decide(
        target(tt_policy(), scale_in_stabilization_s=window_s),
        signal(6, LOW),
        history(recommendations=recommendations),
        NOW,
    )

    assert result.proposed == 3
    assert result.final == final
    assert (R.STABILIZATION in result.reasons) is stabilised
    if stabilised:
        assert f"stabilised to {final} by the {window_s} s window" in result.explanation


def test_given_high_recent_recommendations_when_scaling_out_then_stabilisation_does_not_apply() -> None:
    result = decide(target(tt_policy()), signal(4, HIGH), history(recommendations=[(10, 9)]), NOW)

    assert result.final == 7
    assert R.STABILIZATION not in result.reasons


# --- cooldowns -----------------------------------------------------------------------------------


# Cooldowns are Application Auto Scaling's (ECS services): tests/unit/test_engine_cooldown.py has the
# EC2 side (instance warm-up, no cooldowns). During a scale-out cooldown the capacity the last
# scale-out added counts toward the next one: HIGH (92 at target 60) sized from 2 needs 4, from 3 needs 5.
@pytest.mark.parametrize(
    ("metrics", "current", "hist", "blocked"),
    [
        pytest.param(LOW, 6, history(scaled_out_s_ago=100), True, id="no-scale-in-right-after-scale-out"),
        pytest.param(LOW, 6, history(scaled_in_s_ago=299), True, id="no-scale-in-right-after-scale-in"),
        pytest.param(LOW, 6, history(scaled_out_s_ago=300), False, id="scale-in-once-cooldown-passed"),
        pytest.param(HIGH, 4, history(scaled_in_s_ago=10), False, id="scale-out-ignores-scale-in-cooldown"),
        pytest.param(
            HIGH, 4, history(scaled_out_s_ago=60, scaled_out=(2, 4)), True, id="scale-out-covered-by-the-last-one"
        ),
        pytest.param(
            HIGH, 4, history(scaled_out_s_ago=60, scaled_out=(3, 4)), False, id="larger-scale-out-during-cooldown"
        ),
        pytest.param(HIGH, 4, history(scaled_out_s_ago=120, scaled_out=(2, 4)), False, id="scale-out-after-120s"),
    ],
)
def test_given_target_tracking_cooldowns_when_deciding_then_the_change_waits(
    metrics: dict[str, list[Datapoint]], current: int, hist: TargetHistory, blocked: bool
) -> None:
    result = decide(ecs_target(tt_policy(), scale_in_stabilization_s=0), signal(current, metrics), hist, NOW)

    assert (R.COOLDOWN in result.reasons) is blocked
    assert (result.final == current) is blocked
    if blocked and metrics is LOW:
        assert "the cooldown of policy 'cpu' blocks it for another" in result.explanation
    elif blocked:
        assert "2 before the scale-out 60 s ago need 4; the 2 it added count toward it" in result.explanation


@pytest.mark.parametrize(
    ("acted_s_ago", "blocked"),
    [pytest.param(60, True, id="within-cooldown"), pytest.param(300, False, id="cooldown-over")],
)
def test_given_step_policy_cooldown_when_alarm_breaches_again_then_it_waits(acted_s_ago: float, blocked: bool) -> None:
    policy = step_policy(cooldown_s=300)
    breaching = [alarm(AlarmState.ALARM, 90, 80)]
    acted = history(scaled_out_s_ago=acted_s_ago, scaled_out=(2, 4), policy_actions_s_ago={"burst": acted_s_ago})

    result = decide(ecs_target(policy), signal(4, alarms=breaching), acted, NOW)

    assert result.final == (4 if blocked else 6)
    assert (R.COOLDOWN in result.reasons) is blocked


def test_given_cooldown_when_capacity_is_above_max_then_the_clamp_still_applies() -> None:
    result = decide(
        ecs_target(tt_policy(), max_capacity=5, scale_in_stabilization_s=0),
        signal(8, LOW),
        history(scaled_out_s_ago=5),
        NOW,
    )

    assert result.final == 5
    assert result.reasons == [R.BELOW_TARGET, R.COOLDOWN, R.CLAMPED_TO_MAX]


# --- bounds --------------------------------------------------------------------------------------


def bounds_from(floor: int | None = None, ceiling: int | None = None) -> PolicyResult:
    return PolicyResult(policy="s", policy_type="scheduled", vote=Vote.ABSTAIN, floor=floor, ceiling=ceiling)


def burst_floor(floor: int) -> PolicyResult:
    """A predictive policy's vote with the floor it raises for a recurring burst."""
    return PolicyResult(policy="p", policy_type="predictive", vote=Vote.HOLD, floor=floor, detail="bursts at :00")


T, S, F, RES = BoundSource.TARGET, BoundSource.SCHEDULE, BoundSource.FORECAST, BoundSource.RESOURCE


@pytest.mark.parametrize(
    ("schedules", "resource", "expected"),
    [
        pytest.param([], ResourceBounds(), (1, 10, T, T), id="target-only"),
        pytest.param([bounds_from(floor=4)], ResourceBounds(), (4, 10, S, T), id="scheduled-floor"),
        pytest.param([bounds_from(ceiling=3)], ResourceBounds(), (1, 3, T, S), id="scheduled-ceiling"),
        pytest.param([bounds_from(floor=20)], ResourceBounds(), (10, 10, S, T), id="floor-clamped-to-target-max"),
        pytest.param([bounds_from(ceiling=0)], ResourceBounds(), (1, 1, T, S), id="ceiling-clamped-to-target-min"),
        pytest.param([bounds_from(floor=6), bounds_from(ceiling=4)], ResourceBounds(), (6, 6, S, S), id="floor-wins"),
        pytest.param([bounds_from(floor=3), bounds_from(floor=5)], ResourceBounds(), (5, 10, S, T), id="highest-floor"),
        pytest.param([], ResourceBounds(min=2, max=8), (2, 8, RES, RES), id="resource-narrows"),
        pytest.param([], ResourceBounds(min=0, max=20), (1, 10, T, T), id="resource-never-widens"),
        pytest.param([], ResourceBounds(min=12, max=15), (10, 10, RES, T), id="target-max-beats-resource-min"),
        pytest.param([], ResourceBounds(max=0), (1, 1, T, RES), id="target-min-beats-resource-max"),
        pytest.param([bounds_from(floor=6)], ResourceBounds(max=4), (6, 6, S, RES), id="schedule-beats-resource"),
        pytest.param([burst_floor(5)], ResourceBounds(), (5, 10, F, T), id="burst-floor"),
        pytest.param([bounds_from(floor=4), burst_floor(5)], ResourceBounds(), (5, 10, F, T), id="burst-over-schedule"),
        pytest.param([bounds_from(floor=6), burst_floor(5)], ResourceBounds(), (6, 10, S, T), id="schedule-over-burst"),
        pytest.param([burst_floor(5), bounds_from(floor=5)], ResourceBounds(), (5, 10, S, T), id="tie-is-the-schedule"),
        pytest.param([burst_floor(5), bounds_from(ceiling=3)], ResourceBounds(), (5, 5, F, S), id="burst-over-ceiling"),
    ],
)
def test_given_bounds_from_three_sources_when_combined_then_target_then_schedule_then_resource(
    schedules: list[PolicyResult], resource: ResourceBounds, expected: tuple[int, int, BoundSource, BoundSource]
) -> None:
    bounds = effective_bounds(target(min_capacity=1, max_capacity=10), schedules, resource)

    assert (bounds.low, bounds.high, bounds.low_source, bounds.high_source) == expected


@pytest.mark.parametrize(
    ("current", "metrics", "resource", "final", "reason"),
    [
        pytest.param(0, STEADY, ResourceBounds(), 1, R.CLAMPED_TO_MIN, id="below-min-raised"),
        pytest.param(12, STEADY, ResourceBounds(), 10, R.CLAMPED_TO_MAX, id="above-max-lowered"),
        pytest.param(9, HIGH, ResourceBounds(), 10, R.CLAMPED_TO_MAX, id="proposal-capped"),
        pytest.param(4, HIGH, ResourceBounds(max=6), 6, R.CLAMPED_TO_RESOURCE_MAX, id="resource-max-caps"),
        pytest.param(4, LOW, ResourceBounds(min=1), 2, None, id="resource-min-not-binding"),
        pytest.param(6, LOW, ResourceBounds(min=4), 4, R.CLAMPED_TO_RESOURCE_MIN, id="resource-min-binds"),
    ],
)
def test_given_bounds_when_deciding_then_final_is_clamped_with_a_reason(
    current: int, metrics: dict[str, list[Datapoint]], resource: ResourceBounds, final: int, reason: ReasonCode | None
) -> None:
    result = decide(
        target(tt_policy(), scale_in_stabilization_s=0), signal(current, metrics, bounds=resource), history(), NOW
    )

    assert result.final == final
    clamp_codes = {R.CLAMPED_TO_MIN, R.CLAMPED_TO_MAX, R.CLAMPED_TO_RESOURCE_MIN, R.CLAMPED_TO_RESOURCE_MAX}
    assert [c for c in result.reasons if c in clamp_codes] == ([reason] if reason else [])


@pytest.mark.parametrize(
    ("resource", "differ"),
    [
        pytest.param(ResourceBounds(), False, id="unknown"),
        pytest.param(ResourceBounds(min=1, max=10), False, id="same"),
        pytest.param(ResourceBounds(min=1), False, id="same-min-only"),
        pytest.param(ResourceBounds(min=2, max=10), True, id="min-differs"),
        pytest.param(ResourceBounds(max=20), True, id="max-differs"),
    ],
)
def test_given_resource_bounds_when_deciding_then_a_difference_is_reported(
    resource: ResourceBounds, differ: bool
) -> None:
    result = decide(target(tt_policy()), signal(4, STEADY, bounds=resource), history(), NOW)

    assert (R.RESOURCE_BOUNDS_DIFFER in result.reasons) is differ


def test_given_scheduled_floor_when_load_is_low_then_floor_holds_and_is_explained() -> None:
    calendar = scheduled_policy(action(name="business-hours", cron="0 8 * * *", min_capacity=8))

    result = decide(target(tt_policy(), calendar, scale_in_stabilization_s=0), signal(4, LOW), history(), NOW)

    assert (result.final, result.action, result.effective_min, result.effective_max) == (8, Action.OUT, 8, 10)
    assert result.reasons == [R.BELOW_TARGET, R.SCHEDULE_ACTIVE, R.SCHEDULED_FLOOR]
    assert "raised to the scheduled floor 8: action 'business-hours'" in result.explanation


def test_given_a_night_max_and_a_morning_min_when_load_rises_then_the_night_max_still_caps() -> None:
    # The review's case: max 4 at 00:00, min 2 at 08:00; at 09:00 the bounds are [2, 4], not [2, 20].
    calendar = scheduled_policy(
        action(name="night", cron="0 0 * * *", max_capacity=4), action(name="morning", cron="0 8 * * *", min_capacity=2)
    )
    now = NOW.replace(hour=9)

    result = decide(
        target(tt_policy(), calendar, max_capacity=20), signal(4, {"cpu": series([92] * 3, now)}), history(), now
    )

    assert (result.proposed, result.final, result.effective_min, result.effective_max) == (7, 4, 2, 4)
    assert R.SCHEDULED_CEILING in result.reasons
    assert "the scheduled ceiling 4: action 'night' (max 4)" in result.explanation


def test_given_scheduled_ceiling_when_in_cooldown_then_it_still_lowers_capacity() -> None:
    calendar = scheduled_policy(action(name="night", cron="0 8 * * *", max_capacity=3))

    hist = history(scaled_out_s_ago=10, scaled_out=(5, 8))  # sized from 5, HIGH needs 8: covered

    result = decide(ecs_target(tt_policy(), calendar), signal(8, HIGH), hist, NOW)

    assert (result.final, result.action) == (3, Action.IN)
    assert R.COOLDOWN in result.reasons
    assert R.SCHEDULED_CEILING in result.reasons
    assert result.policy is None  # the winner asked for more; the schedule caused the change


# --- pause ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", [0, 3, 15])
def test_given_paused_target_when_deciding_then_capacity_stays_even_outside_bounds(current: int) -> None:
    result = decide(target(tt_policy(), paused=True), signal(current, HIGH), history(), NOW)

    assert (result.final, result.action) == (current, Action.NONE)
    assert R.PAUSED in result.reasons
    assert result.explanation.startswith(f"Paused: capacity stays at {current}")
