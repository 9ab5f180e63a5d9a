"""AWS faults under Marea's calls: throttling, 5xx, timeouts, resets and lost answers, at 10 % and 50 %."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws as marea_aws
from chalicelib import wiring
from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.audit import read_decisions
from tests.reliability.delivery import Delivery, Plan, invoke, run_threads
from tests.reliability.embedded import fresh_stack
from tests.reliability.faults import FaultInjector, FaultPlan
from tests.reliability.scenarios import ALARM, TICK, aws_faults
from tests.reliability.world import alarm_event, aws_clients, build_fleet, capacity, tick_event

LOG_WRITES = ("dynamodb.TransactWriteItems", "dynamodb.UpdateItem")


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_under_faults_every_decision_ends_applied_or_failed_once_within_bounds_with_bounded_retries(
    aws: EmbeddedAws, rate: float
) -> None:
    outcome = aws_faults(aws, rate=rate, rounds=5)
    outcome.check()
    assert sum(outcome.figures.faults.values()) > 0
    print(outcome.figures.summary())


@pytest.fixture
def one_group(aws: EmbeddedAws) -> dict[str, Any]:
    fresh_stack(aws)
    clients = aws_clients()
    build_fleet(clients, asgs=1, services=0)
    return clients


def alarm(cpu: float, at: datetime | None = None) -> dict[str, Any]:
    return alarm_event("web-0", at or datetime.now(UTC), cpu)


def decision_of(event: dict[str, Any]) -> Any:
    [decision] = [d for d in read_decisions(wiring.decision_log()._table) if d.trigger.event_id == event["id"]]
    return decision


def failing_after_the_change(operations: tuple[str, ...]) -> FaultInjector:
    """Every write of ``operations`` throttled (past all retries), from the first SetDesiredCapacity on."""
    injector = FaultInjector(FaultPlan(rate=1.0, kinds=("throttling",), operations=operations), enabled=False)
    injector.install()
    marea_aws.autoscaling().meta.events.register(
        "after-call.auto-scaling.SetDesiredCapacity", lambda **_: setattr(injector, "enabled", True), unique_id="arm"
    )
    return injector


def test_a_change_whose_outcome_cannot_be_written_is_recorded_by_the_next_evaluation(one_group: Any) -> None:
    injector = failing_after_the_change(LOG_WRITES)
    first = alarm(95)
    invoke(Delivery("spike", ALARM, first))
    injector.uninstall()
    assert capacity(one_group, "asg-0") == 4  # ceil(2 x 95 / 50)
    assert decision_of(first).outcome == "pending"  # the log write failed: nothing explains the change yet

    second = alarm(60, datetime.now(UTC) + timedelta(seconds=30))
    invoke(Delivery("next", ALARM, second))

    closed = decision_of(first)
    assert closed.outcome == "applied"
    assert closed.inputs["actuation"].startswith("confirmed by a later evaluation")
    assert decision_of(second).outcome in ("applied", "skipped")
    assert wiring.registry().require("asg-0").unsettled is None


def test_a_change_that_may_still_be_in_flight_holds_the_next_decision_until_the_pending_timeout(
    one_group: Any,
) -> None:
    """SetDesiredCapacity refused and the log write failing: no one knows the outcome for a while."""
    injector = failing_after_the_change(LOG_WRITES)

    def refuse(**_: Any) -> None:
        injector.enabled = True
        raise ClientError({"Error": {"Code": "ValidationError", "Message": "refused"}}, "SetDesiredCapacity")

    marea_aws.autoscaling().meta.events.register(
        "before-call.auto-scaling.SetDesiredCapacity", refuse, unique_id="refuse"
    )
    first = alarm(95)
    invoke(Delivery("spike", ALARM, first))
    injector.uninstall()
    marea_aws.autoscaling().meta.events.unregister("before-call.auto-scaling.SetDesiredCapacity", unique_id="refuse")
    assert capacity(one_group, "asg-0") == 2
    assert decision_of(first).outcome == "pending"

    waiting = alarm(95, datetime.now(UTC) + timedelta(seconds=30))
    invoke(Delivery("while in flight", ALARM, waiting))
    held = decision_of(waiting)
    assert (held.outcome, held.action, held.reasons[-1]) == ("skipped", "none", "ACTUATION_IN_PROGRESS")
    assert capacity(one_group, "asg-0") == 2

    evaluator = wiring.evaluator()
    evaluator.clock = lambda: datetime.now(UTC) + evaluator.pending_timeout
    later = alarm(95, datetime.now(UTC) + timedelta(minutes=6))
    invoke(Delivery("after the timeout", ALARM, later))
    failed = decision_of(first)
    assert (failed.outcome, failed.reasons[-1]) == ("failed", "ACTUATION_UNCONFIRMED")
    assert "not confirmed" in (failed.error or "")
    assert decision_of(later).outcome == "applied"
    assert capacity(one_group, "asg-0") == 4


def test_a_change_made_though_its_answer_was_lost_is_recorded_applied(one_group: Any) -> None:
    plan = FaultPlan(rate=1.0, kinds=("reply_lost",), operations=("autoscaling.SetDesiredCapacity",))
    injector = FaultInjector(plan)
    injector.install()
    event = alarm(95)
    invoke(Delivery("spike", ALARM, event))
    injector.uninstall()

    decision = decision_of(event)
    assert injector.injected["reply_lost"] == 4  # every attempt carried out, every answer lost
    assert (decision.outcome, decision.final) == ("applied", 4)
    assert "reported an error" in decision.inputs["actuation"]
    assert capacity(one_group, "asg-0") == 4


def test_a_duplicate_delivered_while_the_first_is_still_acting_does_not_act_or_settle_it(one_group: Any) -> None:
    """The redelivery finds its own unsettled mark: its commit is a duplicate, nothing else happens."""
    injector = failing_after_the_change(LOG_WRITES)
    event = alarm(95)
    invoke(Delivery("spike", ALARM, event))
    injector.uninstall()
    report = run_threads([Delivery("again", ALARM, event)], Plan(threads=1))
    assert report.actuations == []
    assert decision_of(event).outcome == "pending"  # left for a later evaluation, not closed by its own duplicate


def test_one_target_that_cannot_be_evaluated_does_not_stop_the_others(aws: EmbeddedAws) -> None:
    """The tick evaluates every target, then fails so that Lambda retries it (regression: it stopped at the first)."""
    from chalicelib.service import Evaluator

    fresh_stack(aws)
    clients = aws_clients()
    build_fleet(clients, asgs=1, services=1)
    evaluate = Evaluator.evaluate

    def broken_for_the_group(self: Evaluator, stored: Any, *args: Any, **kwargs: Any) -> Any:
        if stored.target.id == "asg-0":
            raise RuntimeError("a bug in one target's evaluation")
        return evaluate(self, stored, *args, **kwargs)

    tick = tick_event(datetime.now(UTC))
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(Evaluator, "evaluate", broken_for_the_group)
        with pytest.raises(RuntimeError):
            invoke(Delivery("tick", TICK, tick))
    assert [d.target_id for d in read_decisions(wiring.decision_log()._table)] == ["svc-0"]

    invoke(Delivery("tick, retried", TICK, tick))  # the retry decides the rest; svc-0's is a duplicate
    assert sorted(d.target_id for d in read_decisions(wiring.decision_log()._table)) == ["asg-0", "svc-0"]


def test_a_commit_whose_answer_was_lost_is_carried_out_by_the_same_invocation(one_group: Any) -> None:
    """Regression: the decision stayed pending and the target held on COOLDOWN for the pending timeout."""
    plan = FaultPlan(rate=1.0, kinds=("reply_lost",), operations=("dynamodb.TransactWriteItems",))
    injector = FaultInjector(plan)
    injector.install()
    disarm = lambda **_: setattr(injector, "enabled", False)  # noqa: E731 - after the commit's own attempts
    for outcome in ("after-call", "after-call-error"):
        marea_aws.dynamodb().meta.events.register(f"{outcome}.dynamodb.TransactWriteItems", disarm, unique_id=outcome)
    event = alarm(95)

    invoke(Delivery("spike", ALARM, event))

    injector.uninstall()
    assert injector.injected["reply_lost"] == 4  # the commit went through; none of its answers arrived
    decision = decision_of(event)
    assert (decision.outcome, decision.final) == ("applied", 4)
    assert capacity(one_group, "asg-0") == 4
    assert wiring.registry().require("asg-0").unsettled is None


class LambdaDied(BaseException):
    """The invocation ends here (timeout, out of memory): no handler code runs after it."""


def test_an_event_whose_lambda_died_between_commit_and_act_is_carried_out_by_its_redelivery(one_group: Any) -> None:
    def die(**_: Any) -> None:
        marea_aws.dynamodb().meta.events.unregister("before-call.dynamodb.UpdateItem", unique_id="die")
        raise LambdaDied  # at the claim, the last write before the cloud is called

    marea_aws.dynamodb().meta.events.register("before-call.dynamodb.UpdateItem", die, unique_id="die")
    event = alarm(95)
    with pytest.raises(LambdaDied):
        invoke(Delivery("spike", ALARM, event))
    assert (capacity(one_group, "asg-0"), decision_of(event).outcome) == (2, "pending")

    report = run_threads([Delivery("redelivered", ALARM, event)], Plan(threads=1))  # Lambda retries the event

    assert [(a.decision_id, a.capacity) for a in report.actuations] == [(decision_of(event).id, 4)]
    assert decision_of(event).outcome == "applied"
    assert decision_of(event).inputs["resumed"] == "carried out by the redelivery of its event"
    assert capacity(one_group, "asg-0") == 4
