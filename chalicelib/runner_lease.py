"""The lease of the kops runner: pure planning, no I/O (the lifecycle with I/O: runner_leases.py).

Rules: never two runners for one target at once; while one runs, the newest decision waits
(queued) and older queued ones are superseded, also by a newer evaluation that wants no change; a
runner whose lease expired is stopped before another may start; a queued decision is checked
against the target as it is when the lease passes (docs/aws-semantics.md, "kops instance groups").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.models.reasons import ReasonCode
from chalicelib.models.state import RunnerRun, TargetState

# The runner must be done (and have reported) before its lease expires: it gets the lease minus this.
MAX_REPORTING_MARGIN_S = 60


@dataclass(frozen=True)
class LeasePlan:
    in_flight: RunnerRun | None  # the runner in flight after this evaluation
    queued: RunnerRun | None  # the decision waiting for it
    launch: RunnerRun | None = None  # start a runner for this one now
    expired: RunnerRun | None = None  # its lease expired (and its task was stopped): its decision becomes failed
    superseded: RunnerRun | None = None  # replaced while queued: its decision becomes skipped
    reason: ReasonCode | None = None  # what happened to the new decision

    @property
    def takes_new_decision(self) -> bool:
        """The new decision was started or queued (it stays pending)."""
        return self.reason in (ReasonCode.RUNNER_STARTED, ReasonCode.RUNNER_BUSY)


def runner_budget_s(timeout_s: int) -> int:
    """How long a runner may work: its lease less the time to report (a quarter of it, at most 60 s)."""
    return timeout_s - min(MAX_REPORTING_MARGIN_S, timeout_s // 4)


def expired_run(state: TargetState, now: datetime, timeout_s: int) -> RunnerRun | None:
    """The runner in flight if its lease has expired at ``now``."""
    run = state.in_flight
    if run is not None and now - run.since >= timedelta(seconds=timeout_s):
        return run
    return None


def plan_lease(
    state: TargetState,
    decision_id: str,
    capacity: int,
    wants_change: bool,
    now: datetime,
    timeout_s: int,
    *,
    expired_stopped: bool = True,
    blind: bool = False,
) -> LeasePlan:
    """What the lease becomes after a new decision. ``expired_stopped``: an expired runner's task was
    stopped (or is known gone); if not, it keeps the lease and nothing new may start. ``blind``: the
    new decision holds because it could not see the load, so it says nothing against a queued one."""
    in_flight, expired = state.in_flight, None
    if expired_stopped and expired_run(state, now, timeout_s) is not None:
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
        if blind:
            return LeasePlan(in_flight=in_flight, queued=queued)
        # The newest evaluation wants no change (or may not act): what was queued before it is stale.
        return LeasePlan(in_flight=in_flight, queued=None, superseded=queued)
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


def started(state: TargetState, decision_id: str, task_arn: str | None, at: datetime) -> TargetState | None:
    """The state once RunTask returned for ``decision_id``: its lease runs from ``at``.

    None when it no longer holds the lease."""
    run = state.in_flight
    if run is None or run.decision_id != decision_id:
        return None
    return state.model_copy(update={"in_flight": run.model_copy(update={"since": at, "task_arn": task_arn})})
