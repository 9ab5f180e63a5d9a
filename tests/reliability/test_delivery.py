"""At-least-once delivery and racing evaluations, against the embedded AWS, from threads and processes."""

from __future__ import annotations

import pytest

from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.delivery import Plan
from tests.reliability.scenarios import at_least_once, racing


@pytest.mark.parametrize("seed", [1, 2])
def test_each_event_delivered_up_to_five_times_concurrently_is_decided_once_and_acted_on_at_most_once(
    aws: EmbeddedAws, seed: int
) -> None:
    outcome = at_least_once(aws, Plan(threads=3, processes=1), seed=seed)
    outcome.check()
    print(outcome.figures.summary())


def test_twenty_racing_evaluations_of_one_target_act_at_most_once_and_record_why_the_others_did_not(
    aws: EmbeddedAws,
) -> None:
    outcome = racing(aws, Plan(threads=5, processes=1), evaluations=20)
    outcome.check()
    print(outcome.figures.summary())


def test_a_redelivered_task_state_event_passes_the_lease_the_first_delivery_did_not(aws: EmbeddedAws) -> None:
    """The first delivery closed the runner's decision and died before starting the queued one
    (regression: the redelivery was ignored, and the queued decision waited for the runner timeout)."""
    from datetime import UTC, datetime, timedelta

    from chalicelib import wiring
    from chalicelib.models.decisions import Outcome
    from tests.reliability.audit import read_decisions
    from tests.reliability.delivery import Delivery, run_threads
    from tests.reliability.embedded import fresh_stack
    from tests.reliability.scenarios import TASK, kops_world
    from tests.reliability.world import aws_clients

    stack = fresh_stack(aws)
    kops = kops_world(aws_clients(), stack, datetime.now(UTC) - timedelta(minutes=10))
    running = wiring.decision_log().get(kops.running, consistent=True)
    assert running is not None
    wiring.evaluator().actuations.close(running, Outcome.APPLIED)  # ...and the invocation died here

    report = run_threads([Delivery("redelivered", TASK, kops.stopped_event)], Plan(threads=1))

    assert [a.decision_id for a in report.actuations] == [kops.queued]  # its runner starts now
    queued = next(d for d in read_decisions(stack.decisions_table) if d.id == kops.queued)
    assert queued.outcome == "pending"  # until that runner reports
    assert wiring.registry().require("nodes").state.in_flight.decision_id == kops.queued  # type: ignore[union-attr]
