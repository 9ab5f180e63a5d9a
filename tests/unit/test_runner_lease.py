"""The kops runner lease: one runner per target, newest decision queued, stale ones retired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.models.reasons import ReasonCode
from chalicelib.models.state import RunnerRun, TargetState
from chalicelib.runner_lease import after_runner_stopped, plan_lease

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TIMEOUT = 900


def run(decision_id: str, capacity: int, age_s: int = 60) -> RunnerRun:
    return RunnerRun(decision_id=decision_id, capacity=capacity, since=NOW - timedelta(seconds=age_s))


def test_with_no_runner_a_change_starts_one() -> None:
    plan = plan_lease(TargetState(), "d1", 5, True, NOW, TIMEOUT)
    assert plan.launch == plan.in_flight == RunnerRun(decision_id="d1", capacity=5, since=NOW)
    assert (plan.queued, plan.reason, plan.takes_new_decision) == (None, ReasonCode.RUNNER_STARTED, True)


def test_with_no_runner_and_no_change_nothing_happens() -> None:
    plan = plan_lease(TargetState(), "d1", 5, False, NOW, TIMEOUT)
    assert (plan.launch, plan.in_flight, plan.queued, plan.reason) == (None, None, None, None)


def test_while_a_runner_runs_a_new_size_is_queued_and_the_older_queued_one_superseded() -> None:
    state = TargetState(in_flight=run("d1", 5), queued=run("d2", 6, 30))
    plan = plan_lease(state, "d3", 7, True, NOW, TIMEOUT)
    assert plan.launch is None
    assert plan.in_flight == state.in_flight
    assert plan.queued == RunnerRun(decision_id="d3", capacity=7, since=NOW)
    assert plan.superseded == state.queued
    assert (plan.reason, plan.takes_new_decision) == (ReasonCode.RUNNER_BUSY, True)


def test_while_a_runner_sets_the_same_size_nothing_is_queued() -> None:
    state = TargetState(in_flight=run("d1", 5), queued=run("d2", 6, 30))
    plan = plan_lease(state, "d3", 5, True, NOW, TIMEOUT)
    assert (plan.launch, plan.queued, plan.superseded) == (None, None, state.queued)
    assert (plan.reason, plan.takes_new_decision) == (ReasonCode.ACTUATION_IN_PROGRESS, False)


def test_a_runner_past_its_timeout_is_retired_and_the_lease_is_free_again() -> None:
    state = TargetState(in_flight=run("d1", 5, age_s=TIMEOUT), queued=run("d2", 6, 30))
    plan = plan_lease(state, "d3", 7, True, NOW, TIMEOUT)
    assert plan.expired == state.in_flight
    assert plan.superseded == state.queued
    assert plan.launch == plan.in_flight == RunnerRun(decision_id="d3", capacity=7, since=NOW)


def test_a_timed_out_runner_is_retired_even_when_nothing_changes() -> None:
    state = TargetState(in_flight=run("d1", 5, age_s=TIMEOUT + 1))
    plan = plan_lease(state, "d3", 5, False, NOW, TIMEOUT)
    assert (plan.expired, plan.in_flight, plan.launch) == (state.in_flight, None, None)


def test_when_the_runner_stops_the_queued_decision_takes_the_lease() -> None:
    state = TargetState(in_flight=run("d1", 5), queued=run("d2", 6, 30))
    after, nxt = after_runner_stopped(state, "d1", NOW)
    assert nxt == RunnerRun(decision_id="d2", capacity=6, since=NOW)
    assert (after.in_flight, after.queued) == (nxt, None)


def test_a_stop_of_a_runner_that_no_longer_holds_the_lease_changes_nothing() -> None:
    state = TargetState(in_flight=run("d9", 5))
    after, nxt = after_runner_stopped(state, "d1", NOW)
    assert (after, nxt) == (state, None)
