"""ECS services whose running tasks differ from the desired count: deployments and tasks that do not start.

docs/aws-semantics.md, "ECS services: deployments and tasks that do not start".
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.engine import decide, remember
from chalicelib.models.decisions import Action
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmState, TargetHistory
from tests.unit.engine_factories import NOW, alarm, ecs_target, series, signal, step_policy, tt_policy

R = ReasonCode
DEPLOYING = "ECS deployment ecs-svc/1234567890 in progress (2 deployments running)"


def test_given_a_deployment_running_twice_the_tasks_when_cpu_is_low_then_capacity_is_not_halved() -> None:
    # The review's case: 20 running (old and new tasks), 10 desired, 30 % CPU averaged over the 20.
    # Sized from desired it scaled in to 5, which is 120 % CPU; the 20 tasks' load needs 10 at 60 %.
    policy = tt_policy(target_value=60)

    result = decide(
        ecs_target(policy, scale_in_stabilization_s=0),
        signal(10, {"cpu": series([30] * 15)}, serving=20),
        TargetHistory(),
        NOW,
    )

    assert (result.final, result.action) == (10, Action.NONE), result.explanation


def test_given_a_deployment_in_progress_when_load_would_allow_a_scale_in_then_scale_in_is_suspended() -> None:
    policy = tt_policy(target_value=60)
    deploying = signal(10, {"cpu": series([10] * 15)}, serving=20, scale_in_suspended=DEPLOYING)

    result = decide(ecs_target(policy, scale_in_stabilization_s=0), deploying, TargetHistory(), NOW)

    assert (result.proposed, result.final, result.action) == (4, 10, Action.NONE)
    assert R.SCALE_IN_SUSPENDED in result.reasons
    assert DEPLOYING in result.explanation


def test_given_a_deployment_in_progress_when_load_rises_then_it_still_scales_out() -> None:
    # "Scale-out processes continue to occur, unless suspended, during a deployment."
    deploying = signal(10, {"cpu": series([90] * 3)}, serving=10, scale_in_suspended=DEPLOYING)

    result = decide(ecs_target(tt_policy(target_value=60)), deploying, TargetHistory(), NOW)

    assert (result.final, result.action) == (15, Action.OUT)


def test_given_tasks_that_cannot_be_placed_when_a_step_alarm_stays_in_alarm_then_desired_does_not_climb() -> None:
    # The review's case: running stuck at 4 of 10 desired; a +2 step grew desired 10 -> 12 -> 14 -> 16 -> 18
    # (one step per cooldown). What was asked for has not started: further scale-outs wait for it.
    service = ecs_target(step_policy(steps=((0, None, 2),), cooldown_s=300))
    history, desired, now = TargetHistory(), 10, NOW
    finals = []
    for _ in range(5):
        result = decide(service, signal(desired, alarms=[alarm(AlarmState.ALARM, 95, 80)], serving=4), history, now)
        history = remember(history, service, result, applied=True, now=now)
        desired = result.final
        finals.append(result.final)
        now += timedelta(seconds=301)

    assert finals == [10] * 5
    assert R.SCALE_OUT_IN_PROGRESS in result.reasons
    assert "4 serving need 6, 6 more already starting" in result.explanation
