"""The lease of an asynchronous actuator (the kops runner): pure planning, no I/O.

Rules (issue #3): never two runners for one target at once; while one runs, the newest decision
waits (queued) and older queued ones are superseded; a runner that does not report within the
target's timeout is failed by the next evaluation, which frees the lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.models.reasons import ReasonCode
from chalicelib.models.state import RunnerRun, TargetState


@dataclass(frozen=True)
class LeasePlan:
    in_flight: RunnerRun | None  # the runner in flight after this evaluation
    queued: RunnerRun | None  # the decision waiting for it
    launch: RunnerRun | None = None  # start a runner for this one now
    expired: RunnerRun | None = None  # timed out: its decision becomes failed
    superseded: RunnerRun | None = None  # replaced while queued: its decision becomes skipped
    reason: ReasonCode | None = None  # what happened to the new decision

    @property
    def takes_new_decision(self) -> bool:
        """The new decision was started or queued (it stays pending)."""
        return self.reason in (ReasonCode.RUNNER_STARTED, ReasonCode.RUNNER_BUSY)


def plan_lease(
    state: TargetState, decision_id: str, capacity: int, wants_change: bool, now: datetime, timeout_s: int
) -> LeasePlan:
    in_flight, expired = state.in_flight, None
    if in_flight is not None and now - in_flight.since >= timedelta(seconds=timeout_s):
        in_flight, expired = None, in_flight
    queued = state.queued
    if in_flight is None:
        if not wants_change:
            # A decision queued behind a runner that died is stale: the fresh one holds.
            return LeasePlan(in_flight=None, queued=None, expired=expired, superseded=queued)
        new = RunnerRun(decision_id=decision_id, capacity=capacity, since=now)
        return LeasePlan(
            in_flight=new, queued=None, launch=new, expired=expired, superseded=queued, reason=ReasonCode.RUNNER_STARTED
        )
    if not wants_change:
        return LeasePlan(in_flight=in_flight, queued=queued)
    if capacity == in_flight.capacity:
        # The runner in flight already sets this size: nothing to queue, and a queued other size is stale.
        return LeasePlan(in_flight=in_flight, queued=None, superseded=queued, reason=ReasonCode.ACTUATION_IN_PROGRESS)
    new = RunnerRun(decision_id=decision_id, capacity=capacity, since=now)
    return LeasePlan(in_flight=in_flight, queued=new, superseded=queued, reason=ReasonCode.RUNNER_BUSY)


def after_runner_stopped(state: TargetState, decision_id: str, now: datetime) -> tuple[TargetState, RunnerRun | None]:
    """The state once the runner of ``decision_id`` stopped, and the queued run to start next."""
    if state.in_flight is None or state.in_flight.decision_id != decision_id:
        return state, None  # not the lease holder (already timed out and replaced): nothing to free
    nxt = state.queued.model_copy(update={"since": now}) if state.queued else None
    return state.model_copy(update={"in_flight": nxt, "queued": None}), nxt
