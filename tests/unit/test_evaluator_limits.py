"""The stage's allow-list and ceilings hold when Marea acts, not only when a target is written: a target
registered before the stage was tightened, and a decision that waited, never act outside them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from chalicelib.actuators.kops import KopsActuator
from chalicelib.models.targets import TargetBase
from chalicelib.resource_limits import AllowList, ResourceLimits
from tests.unit.evaluator_world import Clock, MemoryGroup, MemoryRunners, World, asg_body, kops_body
from tests.unit.test_evaluator_lease import runner_and_queued, runners, stop
from tests.unit.test_evaluator_unsettled import Died, dies_before_acting, group

ONLY_API_GROUPS = ResourceLimits(allowed=AllowList.parse("asg:api-*,kops:other/*"))
CEILING_5 = ResourceLimits(ceilings={"asg": 5, "ecs": 5, "kops": 5})


def group_world() -> World:
    world = World(MemoryGroup(current=2))
    world.register(asg_body())  # group "web", [1, 20]
    world.signals.cpu = 90  # 2 at 90 % of 50: 4 wanted
    return world


def test_a_target_outside_the_allow_list_is_evaluated_and_recorded_but_never_acts() -> None:
    world = group_world()
    world.redeploy(ONLY_API_GROUPS)

    decision = world.evaluate("web", event_id="alarm-1")

    assert group(world).applied == []
    assert (decision.outcome, decision.action, decision.final) == ("skipped", "none", 2)
    assert decision.reasons[-1] == "RESOURCE_NOT_ALLOWED"
    assert decision.explanation.startswith(
        "Not acted on: Auto Scaling group 'web' is not among the resources this stage lets Marea manage "
        "(MAREA_ALLOWED_RESOURCES: asg:api-*)"
    )
    assert decision.explanation.endswith("(it would have chosen 4).")


def test_an_advised_target_outside_the_allow_list_says_so() -> None:
    world = group_world()
    world.patch("web", mode="advise")
    world.redeploy(ONLY_API_GROUPS)

    decision = world.evaluate("web")

    assert (decision.outcome, decision.final) == ("recommended", 4)
    assert "RESOURCE_NOT_ALLOWED" in decision.reasons
    assert "Marea would not act on it: Auto Scaling group 'web' is not among" in decision.explanation


def test_a_target_whose_max_is_above_a_lowered_ceiling_is_decided_within_it() -> None:
    world = group_world()
    world.signals.cpu = 250  # 2 at 250 % of 50: 10 wanted, the target allows 20
    world.redeploy(CEILING_5)

    decision = world.evaluate("web")

    assert group(world).applied == [(decision.id, 5)]
    assert (decision.outcome, decision.final, decision.inputs["effective_max"]) == ("applied", 5, 5)
    assert decision.inputs["target_max"] == 20
    assert decision.reasons[-1] == "CEILING_BELOW_MAX"
    assert decision.explanation.endswith(
        "This stage's ceiling for asg targets is 5 (MAREA_MAX_CAPACITY_ASG), below the target's max 20: "
        "Marea decided within it."
    )


@pytest.mark.parametrize(
    ("limits", "why"),
    [
        (ONLY_API_GROUPS, "kops instance group 'demo.k8s.local/nodes' is not among the resources"),
        (CEILING_5, "its size 6 is above this stage's ceiling of 5 for kops targets now"),
    ],
    ids=["allow-list", "ceiling"],
)
def test_a_queued_kops_decision_is_checked_against_the_stage_when_its_turn_comes(
    limits: ResourceLimits, why: str
) -> None:
    clock = Clock()
    world = World(MemoryRunners(current=2, clock=clock), clock)
    world.register(kops_body())
    running, queued = runner_and_queued(world)  # queued: 6
    world.redeploy(limits)

    stop(world, running)

    assert runners(world).started == [running.id]
    closed = world.decision(queued.id)
    assert (closed.outcome, closed.reasons[-1]) == ("skipped", "SUPERSEDED")
    assert why in closed.explanation


@pytest.mark.parametrize(
    ("limits", "why"),
    [
        (ONLY_API_GROUPS, "Auto Scaling group 'web' is not among the resources"),
        (ResourceLimits(ceilings={"asg": 3, "ecs": 3, "kops": 3}), "its size 4 is above this stage's ceiling of 3"),
    ],
    ids=["allow-list", "ceiling"],
)
def test_a_change_that_never_acted_is_checked_against_the_stage_before_it_is_carried_out(
    limits: ResourceLimits, why: str
) -> None:
    world = group_world()
    dies_before_acting(world)
    with pytest.raises(Died):
        world.evaluate("web", event_id="alarm-1")
    world.redeploy(limits)
    world.clock.advance(60)

    again: Any = world.evaluate("web", event_id="alarm-1")  # the redelivery

    assert group(world).applied == []
    assert (again.outcome, again.reasons[-1]) == ("skipped", "SUPERSEDED")
    assert why in again.explanation


@dataclass
class RequestingRunners(MemoryRunners):
    """The runner double, writing the kops actuator's own request (a pure function of the target it is given)."""

    def runner_request(self, target: TargetBase, capacity: int, deadline: datetime) -> dict[str, str | int]:
        return KopsActuator(None, None, None).runner_request(target, capacity, deadline)  # type: ignore[arg-type]


def test_a_floor_kops_target_above_a_lowered_ceiling_asks_its_runner_for_no_max_above_it() -> None:
    clock = Clock()
    world = World(RequestingRunners(current=2, clock=clock), clock)
    world.register(kops_body(sizing="floor", max=5000))
    world.signals.cpu = 90  # 2 at 90 % of 50: 4 wanted
    world.redeploy(ResourceLimits(ceilings={"asg": 1000, "ecs": 1000, "kops": 1000}))

    decision = world.evaluate("nodes")

    assert runners(world).started == [decision.id]
    request = world.log.runner_request(decision.id)
    assert request is not None
    assert (request["min_size"], request["max_size"]) == (4, 1000)  # floor sizing: the ceiling, not the target's 5000
