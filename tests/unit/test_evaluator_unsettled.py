"""A committed change whose outcome is not recorded, in memory: it is carried out exactly once, at once,
whether the commit's answer was lost, the Lambda died before acting, or it died after."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.models.state import StoredTarget
from chalicelib.store.targets import DuplicateDecisionError
from tests.unit.evaluator_world import MemoryGroup, World, asg_body


class Died(BaseException):
    """The Lambda's process ends here (a timeout, an out-of-memory kill): nothing after it runs."""


def group_world() -> World:
    world = World(MemoryGroup(current=2))
    world.register(asg_body())
    world.signals.cpu = 90  # 2 at 90 % of 50: 4 wanted
    return world


def group(world: World) -> MemoryGroup:
    assert isinstance(world.resource, MemoryGroup)
    return world.resource


def lost_answer(world: World, error: Exception) -> None:
    """The commit goes through, and then its caller sees ``error`` instead of the answer."""
    commit = world.registry.commit_evaluation

    def committing_then_failing(*args: Any, **kwargs: Any) -> StoredTarget:
        commit(*args, **kwargs)
        world.registry.commit_evaluation = commit  # type: ignore[method-assign]
        raise error

    world.registry.commit_evaluation = committing_then_failing  # type: ignore[method-assign]


def dies_before_acting(world: World) -> None:
    claim = world.registry.claim_actuation

    def dying(*args: Any, **kwargs: Any) -> bool:
        world.registry.claim_actuation = claim  # type: ignore[method-assign]
        raise Died

    world.registry.claim_actuation = dying  # type: ignore[method-assign]


THROTTLED = ClientError({"Error": {"Code": "ThrottlingException", "Message": "rate exceeded"}}, "TransactWriteItems")


@pytest.mark.parametrize("error", [THROTTLED, DuplicateDecisionError("its own retry")], ids=["error", "own-duplicate"])
def test_a_commit_whose_answer_was_lost_is_acted_on_by_the_same_evaluation(error: Exception) -> None:
    # The retry of a commit whose answer was lost fails (AWS: throttled past the retries; moto, which
    # ignores ClientRequestToken: a duplicate of itself). Before: pending for 5 minutes, nothing acted.
    world = group_world()
    lost_answer(world, error)

    decision = world.evaluate("web", event_id="alarm-1")

    assert (decision.outcome, decision.final) == ("applied", 4)
    assert group(world).applied == [(decision.id, 4)]
    assert decision.inputs["resumed"] == "carried out after its commit's answer was lost"
    assert world.registry.require("web").unsettled is None


def test_a_redelivery_after_the_lambda_died_between_commit_and_act_acts_once() -> None:
    world = group_world()
    dies_before_acting(world)
    with pytest.raises(Died):
        world.evaluate("web", event_id="alarm-1")
    assert group(world).applied == []
    world.clock.advance(60)  # Lambda retries the event a minute later

    again = world.evaluate("web", event_id="alarm-1")

    assert (again.outcome, again.final) == ("applied", 4)
    assert [capacity for _, capacity in group(world).applied] == [4]
    assert again.inputs["resumed"] == "carried out by the redelivery of its event"


def test_a_later_evaluation_carries_out_a_change_whose_evaluation_died_and_then_decides_afresh() -> None:
    world = group_world()
    dies_before_acting(world)
    with pytest.raises(Died):
        world.evaluate("web", event_id="alarm-1")
    [unacted] = world.tables.decisions.values()
    world.clock.advance(60)
    world.signals.cpu = 45  # 4 units would be enough now

    tick = world.evaluate("web", event_id="tick-1")

    assert group(world).applied == [(unacted.id, 4)]  # once, the committed decision's size
    assert world.decision(unacted.id).outcome == "applied"
    assert "carried out by a later evaluation" in world.decision(unacted.id).inputs["resumed"]
    assert (tick.current, tick.action, tick.outcome) == (4, "none", "skipped")  # decided on the capacity after it
    assert world.registry.require("web").unsettled is None


def test_a_change_that_may_have_been_made_is_never_repeated() -> None:
    """Claimed but unrecorded (it died during the call): confirmed from the capacity, or waited for."""
    world = group_world()
    apply = group(world).apply

    def dying_after_the_call(*args: Any) -> Any:
        apply(*args)
        raise Died

    group(world).apply = dying_after_the_call  # type: ignore[method-assign]
    with pytest.raises(Died):
        world.evaluate("web", event_id="alarm-1")
    group(world).apply = apply  # type: ignore[method-assign]
    [made] = world.tables.decisions.values()

    again = world.evaluate("web", event_id="alarm-1")  # the redelivery: a duplicate, it does not act

    assert again.id == made.id
    assert [capacity for _, capacity in group(world).applied] == [4]
    world.clock.advance(60)
    world.signals.cpu = 45
    world.evaluate("web", event_id="tick-1")  # the next evaluation reads 4 = its final: applied
    assert world.decision(made.id).outcome == "applied"
    assert len(group(world).applied) == 1


def test_two_evaluations_finding_an_unacted_change_carry_it_out_once() -> None:
    world = group_world()
    dies_before_acting(world)
    with pytest.raises(Died):
        world.evaluate("web", event_id="alarm-1")
    stored = world.registry.require("web")
    assert stored.unsettled is not None
    marked = stored.unsettled.decision_id
    claims = [world.registry.claim_actuation(stored, marked, by=by) for by in ("tick", "redelivery")]
    assert claims == [True, False]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"paused": True}, "the target was paused while it waited"),
        ({"mode": "advise"}, "the target was switched to advise mode while it waited"),
        ({"max": 3}, "its size 4 is outside the target's [1, 3] now"),
    ],
    ids=["paused", "advise", "max-lowered"],
)
def test_a_change_that_never_acted_is_checked_against_the_target_before_it_is_carried_out(
    change: dict[str, Any], why: str
) -> None:
    world = group_world()
    dies_before_acting(world)
    with pytest.raises(Died):
        world.evaluate("web", event_id="alarm-1")
    world.patch("web", **change)
    world.clock.advance(60)

    again = world.evaluate("web", event_id="alarm-1")  # the redelivery

    assert group(world).applied == []
    assert (again.outcome, again.reasons[-1]) == ("skipped", "SUPERSEDED")
    assert again.explanation.endswith(f"Superseded before it acted: {why}.")
    assert world.registry.require("web").unsettled is None
    world.clock.advance(60)
    world.signals.cpu = 45
    world.evaluate("web", event_id="tick-1")
    assert [c for _, c in group(world).applied] in ([], [3])  # only what the target allows now


def test_a_claim_retried_by_its_own_claimer_still_acts() -> None:
    """A claim whose answer was lost is retried by botocore; the retry must not read as someone else's."""
    world = group_world()
    claim = world.registry.claim_actuation

    def claimed_twice(*args: Any, **kwargs: Any) -> bool:
        claim(*args, **kwargs)  # went through, answer lost
        return claim(*args, **kwargs)

    world.registry.claim_actuation = claimed_twice  # type: ignore[method-assign]
    decision = world.evaluate("web", event_id="alarm-1")
    assert (decision.outcome, group(world).applied) == ("applied", [(decision.id, 4)])


def outcome_write_fails_once(world: World) -> None:
    """The write of the next outcome (with the mark's removal) is throttled past botocore's retries."""
    settle = world.registry.settle_actuation

    def throttled(*args: Any, **kwargs: Any) -> bool:
        world.registry.settle_actuation = settle  # type: ignore[method-assign]
        raise THROTTLED

    world.registry.settle_actuation = throttled  # type: ignore[method-assign]


def test_a_change_carried_out_by_a_later_evaluation_whose_outcome_was_not_written_is_not_acted_over() -> None:
    # Before: the later evaluation then decided afresh and acted, its commit replaced the mark, and the
    # carried-out decision stayed pending for ever (test_faults.py's 50 % run, about 1 run in 11).
    world = group_world()
    dies_before_acting(world)
    with pytest.raises(Died):
        world.evaluate("web", event_id="alarm-1")
    [unacted] = world.tables.decisions.values()
    world.clock.advance(60)
    outcome_write_fails_once(world)

    tick = world.evaluate("web", event_id="tick-1")  # carries it out (2 -> 4); at 90 % of 4 it wants 8

    assert group(world).applied == [(unacted.id, 4)]
    assert (tick.outcome, tick.reasons[-1]) == ("skipped", "ACTUATION_IN_PROGRESS")
    marker = world.registry.require("web").unsettled
    assert marker is not None
    assert marker.decision_id == unacted.id  # the mark still stands for the unrecorded change
    world.clock.advance(60)

    after = world.evaluate("web", event_id="tick-2")

    closed = world.decision(unacted.id)
    assert (closed.outcome, closed.final) == ("applied", 4)
    assert closed.inputs["actuation"].startswith("confirmed by a later evaluation")
    assert (after.outcome, after.final) == ("applied", 8)
    assert group(world).applied == [(unacted.id, 4), (after.id, 8)]
