"""Cooldowns and instance warm-up, the way each AWS service scales the kind of target.

ECS services follow Application Auto Scaling: during a scale-out cooldown the capacity the last
scale-out added counts toward the next one, so a larger step goes through at once, adding only the
difference; scale-in waits for its cooldown. Auto Scaling groups (and kops instance groups) follow
EC2 Auto Scaling: target tracking and step policies have no cooldown; instances still warming up
count toward the capacity a further scale-out is sized from, and scale-in waits until they are in
service. docs/aws-semantics.md, "Cooldowns and instance warm-up" and "A larger step during a cooldown".
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.engine import decide, remember
from chalicelib.models.decisions import Action
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmState, CapacityChange, TargetHistory
from chalicelib.models.targets import ScalingService
from tests.unit.engine_factories import (
    NOW,
    alarm,
    custom_metric,
    ecs_target,
    history,
    series,
    signal,
    step_policy,
    target,
    tt_policy,
)

R = ReasonCode
# [0, 10) above the threshold adds 1, [10, inf) adds 5; the alarm's threshold is 80.
BURST = step_policy(steps=((0, 10, 1), (10, None, 5)), cooldown_s=300)
SMALL_BREACH = [alarm(AlarmState.ALARM, 85, 80)]
LARGE_BREACH = [alarm(AlarmState.ALARM, 95, 80)]
# A custom metric at 150 with target 60: 5 units serving need ceil(5 x 150 / 60) = 13.
LOAD = custom_metric("Load")


def load_policy() -> object:
    return tt_policy(name="load", metric=LOAD, target_value=60)


def test_the_kinds_follow_the_service_that_scales_them_on_aws() -> None:
    assert target().scaling_service is ScalingService.EC2_AUTO_SCALING
    assert ecs_target().scaling_service is ScalingService.APPLICATION_AUTO_SCALING


# --- ECS services: Application Auto Scaling cooldowns ---------------------------------------------


def after_burst(seconds_ago: float, before: int = 10, after: int = 11) -> TargetHistory:
    """The step policy scaled out ``before`` -> ``after`` ``seconds_ago``."""
    return history(
        scaled_out_s_ago=seconds_ago, scaled_out=(before, after), policy_actions_s_ago={"burst": seconds_ago}
    )


def test_given_a_larger_step_during_the_cooldown_when_deciding_then_it_applies_at_once_adding_the_difference() -> None:
    # The review's case: +1, then a minute later a breach reaching the +5 step was held 240 s.
    result = decide(ecs_target(BURST), signal(11, alarms=LARGE_BREACH, serving=11), after_burst(60), NOW)

    assert (result.final, result.action, result.policy) == (15, Action.OUT, "burst")  # 10 + 5: adds 4
    assert R.COOLDOWN not in result.reasons


def test_given_the_same_step_during_the_cooldown_when_deciding_then_it_waits() -> None:
    result = decide(ecs_target(BURST), signal(11, alarms=SMALL_BREACH, serving=11), after_burst(60), NOW)

    assert (result.final, result.action) == (11, Action.NONE)
    assert R.COOLDOWN in result.reasons
    assert "10 before the scale-out 60 s ago need 11" in result.explanation
    assert "cooldown 300 s, 240 s left" in result.explanation


def test_given_the_cooldown_over_when_the_same_step_breaches_then_it_applies_again() -> None:
    result = decide(ecs_target(BURST), signal(11, alarms=SMALL_BREACH, serving=11), after_burst(300), NOW)

    assert result.final == 12


def test_given_a_scale_in_cooldown_when_a_step_scales_out_then_it_goes_at_once() -> None:
    # AAS: "if another alarm triggers a scale-out activity during the cooldown period after a scale-in
    # activity, Application Auto Scaling scales out the target immediately".
    scaled_in = history(scaled_in_s_ago=60, policy_actions_s_ago={"burst": 60})

    result = decide(ecs_target(BURST), signal(10, alarms=SMALL_BREACH, serving=10), scaled_in, NOW)

    assert result.final == 11


def test_given_units_starting_during_the_cooldown_when_target_tracking_asks_for_more_then_it_goes_at_once() -> None:
    # The review's case: 5 serving at 150 % of target with 3 starting asks 13 and was held by the cooldown.
    hist = history(scaled_out_s_ago=60, scaled_out=(5, 8))

    result = decide(ecs_target(load_policy()), signal(8, {"load": series([150] * 3)}, serving=5), hist, NOW)

    assert (result.final, result.action, result.policy) == (13, Action.OUT, "load")


def test_given_a_lagging_metric_during_the_cooldown_when_all_units_serve_then_the_last_scale_out_counts() -> None:
    # 5 -> 8 a minute ago; the metric still reads 90 (measured before the 3 new tasks served): sized from
    # the 5 the scale-out started from, 8 are needed and 8 are there.
    hist = history(scaled_out_s_ago=60, scaled_out=(5, 8))

    result = decide(ecs_target(load_policy()), signal(8, {"load": series([90] * 3)}, serving=8), hist, NOW)

    assert (result.final, result.action) == (8, Action.NONE)
    assert R.COOLDOWN in result.reasons


def test_given_a_larger_scale_out_inside_the_cooldown_when_remembered_then_the_first_base_is_kept() -> None:
    first = decide(ecs_target(BURST), signal(10, alarms=SMALL_BREACH, serving=10), TargetHistory(), NOW)
    after_first = remember(TargetHistory(), ecs_target(BURST), first, applied=True, now=NOW)
    later = NOW + timedelta(seconds=60)
    second = decide(ecs_target(BURST), signal(11, alarms=LARGE_BREACH, serving=11), after_first, later)
    after_second = remember(after_first, ecs_target(BURST), second, applied=True, now=later)
    third = decide(
        ecs_target(BURST), signal(15, alarms=LARGE_BREACH, serving=15), after_second, later + timedelta(seconds=60)
    )

    assert after_first.last_scale_out == CapacityChange(at=NOW, capacity=11, before=10)
    assert after_second.last_scale_out == CapacityChange(at=later, capacity=15, before=10)
    assert (first.final, second.final, third.final) == (11, 15, 15)  # the +5 already done is not done twice


def test_given_an_ecs_scale_in_cooldown_when_load_is_low_then_scale_in_waits() -> None:
    policy = tt_policy(scale_in_cooldown_s=300)

    result = decide(
        ecs_target(policy, scale_in_stabilization_s=0),
        signal(6, {"cpu": series([30] * 15)}),
        history(scaled_in_s_ago=100),
        NOW,
    )

    assert (result.final, result.action) == (6, Action.NONE)
    assert R.COOLDOWN in result.reasons


# --- Auto Scaling groups: EC2 Auto Scaling instance warm-up ---------------------------------------


def test_given_an_instance_warming_when_a_larger_step_breaches_then_it_is_sized_from_the_instances_in_service() -> None:
    # EC2's own example: 10 in service, 1 warming (desired 11), a breach reaching +5 sets desired 15.
    result = decide(target(BURST, max_capacity=20), signal(11, alarms=LARGE_BREACH, serving=10), after_burst(60), NOW)

    assert (result.final, result.action, result.policy) == (15, Action.OUT, "burst")


def test_given_an_instance_warming_when_the_same_step_breaches_then_the_warming_one_covers_it() -> None:
    result = decide(target(BURST, max_capacity=20), signal(11, alarms=SMALL_BREACH, serving=10), after_burst(60), NOW)

    assert (result.final, result.action) == (11, Action.NONE)
    assert result.reasons[0] is R.SCALE_OUT_IN_PROGRESS
    assert R.COOLDOWN not in result.reasons
    assert "10 serving need 11, 1 more already starting" in result.explanation


def test_given_the_instance_in_service_but_within_its_warm_up_when_the_same_step_breaches_then_it_still_counts() -> (
    None
):
    # Marea reads the policy's cooldown_s (300) as the instances' warm-up, as AWS falls back to the
    # group's cooldown: InService alone does not end it.
    result = decide(target(BURST, max_capacity=20), signal(11, alarms=SMALL_BREACH, serving=11), after_burst(60), NOW)

    assert (result.final, result.action) == (11, Action.NONE)
    assert result.reasons[0] is R.SCALE_OUT_IN_PROGRESS
    assert "the 1 it added are still warming up (warm-up 300 s, 240 s left)" in result.explanation


def test_given_the_warm_up_over_when_the_same_step_breaches_then_it_applies_again() -> None:
    result = decide(target(BURST, max_capacity=20), signal(11, alarms=SMALL_BREACH, serving=11), after_burst(300), NOW)

    assert result.final == 12


def test_given_instances_warming_when_target_tracking_asks_for_more_then_it_goes_at_once() -> None:
    hist = history(scaled_out_s_ago=60, scaled_out=(5, 8))

    result = decide(
        target(load_policy(), max_capacity=20), signal(8, {"load": series([150] * 3)}, serving=5), hist, NOW
    )

    assert result.final == 13


def test_given_a_recent_scale_in_when_load_is_still_low_then_an_asg_scales_in_again() -> None:
    # EC2 Auto Scaling: no cooldown for target tracking; the stabilisation window is Marea's brake.
    result = decide(
        target(tt_policy(), scale_in_stabilization_s=0),
        signal(6, {"cpu": series([30] * 15)}, serving=6),
        history(scaled_in_s_ago=30),
        NOW,
    )

    assert (result.final, result.action) == (3, Action.IN)
    assert R.COOLDOWN not in result.reasons


@pytest.mark.parametrize(("seconds_ago", "suspended"), [(30, True), (120, False)])
def test_given_a_recent_scale_out_when_load_drops_then_an_asg_waits_for_the_warm_up(
    seconds_ago: int, suspended: bool
) -> None:
    # "This blocks the scale-in activities for dynamic scaling until the new instances finish warming up."
    result = decide(
        target(tt_policy(), scale_in_stabilization_s=0),
        signal(6, {"cpu": series([30] * 15)}, serving=6),
        history(scaled_out_s_ago=seconds_ago, scaled_out=(3, 6)),
        NOW,
    )

    assert (result.final == 6) is suspended
    assert (R.SCALE_IN_SUSPENDED in result.reasons) is suspended
    if suspended:
        assert "the 3 instances the scale-out 30 s ago added are warming up" in result.explanation


def test_given_instances_warming_when_load_is_low_then_an_asg_does_not_scale_in() -> None:
    result = decide(
        target(tt_policy(), scale_in_stabilization_s=0),
        signal(6, {"cpu": series([10] * 15)}, serving=4),
        history(),
        NOW,
    )

    assert (result.final, result.action) == (6, Action.NONE)
    assert R.SCALE_IN_SUSPENDED in result.reasons
    assert "2 of 6 instances are not in service yet" in result.explanation
