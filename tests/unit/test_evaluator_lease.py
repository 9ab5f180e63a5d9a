"""The kops runner's lease, in memory: queued decisions re-checked when the lease passes, expired
runners stopped before another starts, the lease timed from RunTask, late completions ignored."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.models.decisions import Decision
from tests.unit.evaluator_world import Clock, MemoryRunners, World, kops_body


def kops_world() -> World:
    clock = Clock()
    world = World(MemoryRunners(current=2, clock=clock), clock)
    world.register(kops_body())
    return world


def runners(world: World) -> MemoryRunners:
    assert isinstance(world.resource, MemoryRunners)
    return world.resource


def runner_and_queued(world: World) -> tuple[Decision, Decision]:
    """A runner in flight for 4 (2 at 90 %), and a decision for 6 (3 at 99 %) queued behind it."""
    world.signals.cpu = 90
    running = world.evaluate("nodes", event_id="e1")
    runners(world).current = 3
    world.signals.cpu = 99
    world.clock.advance(30)
    queued = world.evaluate("nodes", event_id="e2")
    assert (running.outcome, running.final, queued.outcome, queued.final) == ("pending", 4, "pending", 6)
    assert runners(world).started == [running.id]
    return running, queued


def stop(world: World, decision: Decision) -> None:
    world.log.record_runner_result(decision.id, {"status": "applied", "message": "sizes verified"})
    world.evaluator.complete_runner(
        decision.id, 0, "Essential container in task exited", world.clock.advance(60), task_arn=f"task/{decision.id}"
    )


def test_a_queued_decision_starts_when_the_runner_stops() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    stop(world, running)
    assert runners(world).started == [running.id, queued.id]
    assert world.decision(running.id).outcome == "applied"


def test_a_queued_decision_of_a_target_paused_meanwhile_never_starts() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    world.patch("nodes", paused=True)

    stop(world, running)

    assert runners(world).started == [running.id]
    skipped = world.decision(queued.id)
    assert (skipped.outcome, skipped.reasons[-1]) == ("skipped", "SUPERSEDED")
    assert skipped.explanation.endswith("Superseded before its runner started: the target was paused while it waited.")
    assert world.registry.require("nodes").state.in_flight is None


def test_a_queued_decision_of_a_target_switched_to_advise_never_starts() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    world.patch("nodes", mode="advise")

    stop(world, running)

    assert runners(world).started == [running.id]
    assert "switched to advise" in world.decision(queued.id).explanation
    assert world.decision(queued.id).outcome == "skipped"


def test_a_queued_size_above_a_max_lowered_meanwhile_is_never_applied() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    world.patch("nodes", max=5)

    stop(world, running)

    assert runners(world).started == [running.id]
    assert "its size 6 is outside the target's [1, 5] now" in world.decision(queued.id).explanation


def test_a_newer_evaluation_that_wants_no_change_supersedes_the_queued_decision() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    world.signals.cpu = 40  # 3 at 40 % of 50: no change wanted (within tolerance)
    holding = world.evaluate("nodes", event_id="e3")
    assert holding.action == "none"
    assert world.decision(queued.id).reasons[-1] == "SUPERSEDED"

    stop(world, running)

    assert runners(world).started == [running.id]  # the stale 6 never starts


def test_an_evaluation_that_cannot_see_the_load_leaves_the_queued_decision_alone() -> None:
    world = kops_world()
    _running, queued = runner_and_queued(world)
    world.signals.cpu = float("nan")  # no usable datapoint: a hold that says nothing about the load
    blind = world.evaluate("nodes", event_id="e3")
    assert "HOLD_ON_MISSING_DATA" in blind.reasons
    assert world.decision(queued.id).outcome == "pending"


def test_an_expired_runner_is_stopped_before_another_starts_and_its_decision_fails() -> None:
    world = kops_world()
    world.signals.cpu = 90
    lost = world.evaluate("nodes", event_id="e1")
    world.clock.advance(901)

    later = world.evaluate("nodes", event_id="e2")

    assert runners(world).calls == [("start", lost.id), ("stop", f"task/{lost.id}"), ("start", later.id)]
    expired = world.decision(lost.id)
    assert (expired.outcome, expired.reasons[-1]) == ("failed", "RUNNER_TIMEOUT")
    assert later.outcome == "pending"


def test_a_runner_that_cannot_be_stopped_keeps_the_lease_and_nothing_new_starts() -> None:
    world = kops_world()
    world.signals.cpu = 90
    lost = world.evaluate("nodes", event_id="e1")
    world.clock.advance(901)
    runners(world).refuse_stop = True
    runners(world).current = 3  # the next decision wants 6, not the 4 in flight

    later = world.evaluate("nodes", event_id="e2")

    assert runners(world).started == [lost.id]
    assert world.decision(lost.id).outcome == "pending"
    assert "RUNNER_NOT_STOPPED" in later.reasons
    assert (later.outcome, later.reasons[-1]) == ("pending", "RUNNER_BUSY")  # queued until it is stopped
    assert world.registry.require("nodes").state.in_flight.decision_id == lost.id  # type: ignore[union-attr]


def test_the_lease_runs_from_when_runtask_returned_not_from_the_event() -> None:
    world = kops_world()
    world.signals.cpu = 90
    late_event = world.clock() - timedelta(minutes=10)  # delivered ten minutes late
    started = world.evaluate("nodes", event_id="e1", at=late_event)
    run = world.registry.require("nodes").state.in_flight
    assert run is not None
    assert (run.decision_id, run.since, run.task_arn) == (started.id, world.clock(), f"task/{started.id}")

    world.clock.advance(600)  # 16 minutes after the event, 10 after RunTask: the lease still holds
    runners(world).current = 3
    world.signals.cpu = 99
    assert world.evaluate("nodes", event_id="e2").reasons[-1] == "RUNNER_BUSY"


def test_the_runner_must_finish_before_its_lease_expires() -> None:
    world = kops_world()
    world.signals.cpu = 90
    started = world.evaluate("nodes", event_id="e1")
    deadline = runners(world).deadlines[started.id]
    assert deadline == world.clock() - timedelta(seconds=2) + timedelta(seconds=900 - 60)  # from the RunTask call
    assert started.inputs["runner_deadline"] == deadline.isoformat()


def test_a_completion_after_the_lease_passed_is_ignored_and_noted_on_its_decision() -> None:
    world = kops_world()
    world.signals.cpu = 90
    lost = world.evaluate("nodes", event_id="e1")
    world.clock.advance(901)
    newer = world.evaluate("nodes", event_id="e2")

    world.log.record_runner_result(lost.id, {"status": "applied", "message": "late"})
    result = world.evaluator.complete_runner(
        lost.id, 0, "Task stopped by user", world.clock.advance(5), task_arn=f"task/{lost.id}"
    )

    assert result is None
    old = world.decision(lost.id)
    assert old.outcome == "failed"  # it stays what the lease made it
    assert "after its lease had passed" in old.inputs["late_completion"]
    assert world.registry.require("nodes").state.in_flight.decision_id == newer.id  # type: ignore[union-attr]
    assert world.decision(newer.id).outcome == "pending"


def test_a_kops_commit_whose_answer_was_lost_still_retires_what_it_replaced_and_starts_its_runner() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    stop(world, running)  # the queued 6 runs now
    runners(world).current = 6
    world.signals.cpu = 99  # 6 at 99 %: 12
    commit = world.registry.commit_evaluation

    def committing_then_failing(*args: object, **kwargs: object) -> object:
        commit(*args, **kwargs)  # type: ignore[arg-type]
        world.registry.commit_evaluation = commit  # type: ignore[method-assign]
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "lost"}}, "TransactWriteItems")

    world.registry.commit_evaluation = committing_then_failing  # type: ignore[method-assign]
    newest = world.evaluate("nodes", event_id="e3")  # queued behind the 6
    assert (newest.outcome, newest.reasons[-1]) == ("pending", "RUNNER_BUSY")

    # and an expired lease retired on a lost answer is closed and stopped, the new runner started
    world.clock.advance(901)
    world.registry.commit_evaluation = committing_then_failing  # type: ignore[method-assign]
    later = world.evaluate("nodes", event_id="e4")
    assert world.decision(queued.id).reasons[-1] == "RUNNER_TIMEOUT"
    assert world.decision(newest.id).reasons[-1] == "SUPERSEDED"
    assert runners(world).started[-1] == later.id


def test_a_runtask_whose_answer_was_lost_keeps_the_lease_so_no_second_runner_starts() -> None:
    world = kops_world()
    world.signals.cpu = 90
    runners(world).lose_start_answer = True
    maybe = world.evaluate("nodes", event_id="e1")
    assert maybe.outcome == "pending"
    assert "lease holds" in maybe.inputs["actuation"]
    world.clock.advance(60)
    runners(world).current = 3
    world.signals.cpu = 99

    queued = world.evaluate("nodes", event_id="e2")

    assert runners(world).started == [maybe.id]  # no second RunTask while the first may run
    assert queued.reasons[-1] == "RUNNER_BUSY"


def test_a_redelivered_completion_of_an_applied_runner_is_not_taken_for_a_late_one() -> None:
    world = kops_world()
    running, _queued = runner_and_queued(world)
    stop(world, running)
    world.evaluator.complete_runner(
        running.id, 0, "Essential container in task exited", world.clock.advance(5), task_arn=f"task/{running.id}"
    )
    assert "late_completion" not in world.decision(running.id).inputs
    assert world.decision(running.id).outcome == "applied"


def test_a_late_task_state_event_does_not_hand_the_next_runner_an_expired_lease() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    world.log.record_runner_result(running.id, {"status": "applied"})
    event_time = world.clock() - timedelta(minutes=20)  # delivered twenty minutes late
    seen: list[datetime] = []  # the lease as any evaluation sees it while the next RunTask is under way
    runners(world).on_start = lambda: seen.append(world.registry.require("nodes").state.in_flight.since)  # type: ignore[union-attr]

    world.evaluator.complete_runner(
        running.id, 0, "Essential container in task exited", event_time, task_arn=f"task/{running.id}"
    )

    assert seen == [world.clock() - timedelta(seconds=2)]  # from when the lease passed, not the event's time
    run = world.registry.require("nodes").state.in_flight
    assert run is not None
    assert (run.decision_id, run.since) == (queued.id, world.clock())  # then from RunTask's return


def test_a_queued_change_counts_when_its_runner_starts_and_a_failed_one_is_forgotten() -> None:
    world = kops_world()
    running, queued = runner_and_queued(world)
    out = world.registry.require("nodes").state.history.last_scale_out
    assert out is not None
    assert out.capacity == running.final  # the queued 6 has not counted: it may never run

    world.evaluator.complete_runner(
        running.id, 3, "Essential container in task exited", world.clock.advance(60), task_arn=f"task/{running.id}"
    )

    history = world.registry.require("nodes").state.history
    assert history.last_scale_out is not None
    assert (history.last_scale_out.capacity, history.last_scale_out.at) == (
        queued.final,
        world.clock() - timedelta(seconds=2),
    )


def test_a_superseded_queued_change_leaves_no_trace_in_the_history() -> None:
    world = kops_world()
    running, _queued = runner_and_queued(world)
    world.signals.cpu = 40  # no change wanted: the queued 6 is superseded
    world.evaluate("nodes", event_id="e3")
    out = world.registry.require("nodes").state.history.last_scale_out
    assert out is not None
    assert out.capacity == running.final


def test_a_runner_that_failed_or_timed_out_leaves_no_trace_in_the_history() -> None:
    world = kops_world()
    world.signals.cpu = 90
    failed = world.evaluate("nodes", event_id="e1")
    world.evaluator.complete_runner(failed.id, 3, "kops failed", world.clock.advance(60), task_arn=f"task/{failed.id}")
    assert world.registry.require("nodes").state.history.last_scale_out is None

    lost = world.evaluate("nodes", event_id="e2")
    assert world.registry.require("nodes").state.history.last_scale_out is not None
    world.clock.advance(901)
    world.signals.cpu = 40
    world.evaluate("nodes", event_id="e3")  # retires the expired runner
    assert world.decision(lost.id).reasons[-1] == "RUNNER_TIMEOUT"
    assert world.registry.require("nodes").state.history.last_scale_out is None


def failing_close(world: World, decision_id: str) -> list[str]:
    """The log refuses, once, to close ``decision_id`` (a throttled write): returns the ids it refused."""
    finalize = world.log.finalize_if_pending
    refused: list[str] = []

    def refusing(decision: Decision) -> bool:
        if decision.id == decision_id and not refused:
            refused.append(decision.id)
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")
        return finalize(decision)

    world.log.finalize_if_pending = refusing  # type: ignore[method-assign]
    return refused


def test_a_superseded_decision_whose_close_failed_is_closed_by_the_next_evaluation() -> None:
    """Regression: it stayed pending for good, the lease no longer naming it."""
    world = kops_world()
    _running, queued = runner_and_queued(world)
    refused = failing_close(world, queued.id)
    world.signals.cpu = 40  # no change wanted: the queued decision is superseded
    world.evaluate("nodes", event_id="e3")
    assert refused == [queued.id]
    assert world.decision(queued.id).outcome == "pending"
    assert world.registry.require("nodes").state.queued is None

    world.clock.advance(60)
    world.evaluate("nodes", event_id="e4")

    stray = world.decision(queued.id)
    assert (stray.outcome, stray.reasons[-1]) == ("skipped", "SUPERSEDED")


def test_an_expired_runner_whose_close_failed_is_failed_by_the_next_evaluation() -> None:
    world = kops_world()
    world.signals.cpu = 90
    lost = world.evaluate("nodes", event_id="e1")
    world.clock.advance(901)
    refused = failing_close(world, lost.id)
    later = world.evaluate("nodes", event_id="e2")
    assert refused == [lost.id]
    assert world.decision(lost.id).outcome == "pending"

    world.clock.advance(60)
    world.evaluate("nodes", event_id="e3")

    expired = world.decision(lost.id)
    assert (expired.outcome, expired.reasons[-1]) == ("failed", "RUNNER_TIMEOUT")
    assert world.decision(later.id).outcome == "pending"  # the runner in flight keeps its lease


def test_a_queued_decision_whose_commit_answer_was_lost_is_started_once_when_the_lease_passes_to_it() -> None:
    """Its evaluation resumes after the lost answer while the runner ahead stops and the lease passes to it:
    the lease's passing starts it, its own evaluation must not (regression: two RunTasks for one decision)."""
    world = kops_world()
    world.signals.cpu = 90
    running = world.evaluate("nodes", event_id="e1")
    runners(world).current = 3
    world.signals.cpu = 99  # the next decision wants 6: it is queued behind the runner for 4
    commit, get = world.registry.commit_evaluation, world.registry.get
    lease_passes = [True]

    def runner_stops_first(target_id: str) -> Any:
        if lease_passes and lease_passes.pop():
            stop(world, running)  # meanwhile, the runner's STOPPED event passes the lease on
        return get(target_id)

    def answer_lost(*args: Any, **kwargs: Any) -> Any:
        commit(*args, **kwargs)
        world.registry.get = runner_stops_first  # type: ignore[method-assign]
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "answer lost"}}, "TransactWriteItems")

    world.registry.commit_evaluation = answer_lost  # type: ignore[method-assign]
    world.clock.advance(30)
    queued = world.evaluate("nodes", event_id="e2")

    assert "RUNNER_BUSY" in queued.reasons
    assert runners(world).started == [running.id, queued.id]


def test_a_completion_of_another_task_naming_the_decision_leaves_it_pending_and_the_lease_held() -> None:
    # startedBy is RunTask's caller's to choose: a task Marea did not start can name a pending decision.
    world = kops_world()
    running, _queued = runner_and_queued(world)
    world.log.record_runner_result(running.id, {"status": "applied"})

    forged = world.evaluator.complete_runner(running.id, 0, "exited", world.clock.advance(5), task_arn="task/forged")

    assert forged is None
    assert world.decision(running.id).outcome == "pending"
    assert world.registry.require("nodes").state.in_flight.decision_id == running.id  # type: ignore[union-attr]
    assert runners(world).started == [running.id]  # the queued decision did not start
    stop(world, running)  # the real runner's event still closes it
    assert world.decision(running.id).outcome == "applied"


def test_a_completion_when_runtasks_answer_was_lost_is_not_trusted_and_the_lease_expiry_closes_it() -> None:
    # No task ARN is known to match the event against: the decision waits for its lease to expire.
    world = kops_world()
    world.signals.cpu = 90
    runners(world).lose_start_answer = True
    maybe = world.evaluate("nodes", event_id="e1")

    ignored = world.evaluator.complete_runner(maybe.id, 0, "exited", world.clock.advance(60), task_arn="task/any")

    assert ignored is None
    assert world.decision(maybe.id).outcome == "pending"
    world.clock.advance(901)
    world.evaluate("nodes", event_id="e2")
    assert world.decision(maybe.id).reasons[-1] == "RUNNER_TIMEOUT"
