"""The kops runner's lease, with I/O: stop an expired runner, start one, complete it, pass the lease.

Planning is pure (runner_lease.py); this module carries the plans out. Order of effects (why):
an expired runner's task is stopped *before* the evaluation that retires it commits, so that a new
runner never starts while the old one may still apply its stale size; a runner is started only
after the decision that takes the lease is committed; its lease runs from when RunTask returned,
and the runner gets a deadline short of it (runner_lease.runner_budget_s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import runner_lease
from chalicelib.actuation import Actuations
from chalicelib.actuators.base import AnyActuator, RunnerActuator
from chalicelib.engine.history import forget_change, remember_change
from chalicelib.errors import ActuationError
from chalicelib.models.decisions import Decision, Outcome
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.state import RunnerRun, StoredTarget, TargetState
from chalicelib.models.targets import TargetBase
from chalicelib.observability import count, logger
from chalicelib.resource_limits import DEFAULT_LIMITS, ResourceLimits
from chalicelib.runner_lease import LeasePlan
from chalicelib.still_allowed import reason_not_to_act
from chalicelib.store.decisions import DecisionQuery
from chalicelib.store.protocols import DecisionStore, TargetStore
from chalicelib.store.targets import VersionConflictError

DEFAULT_RUNNER_TIMEOUT_S = 900
_LEASE_RETRIES = 3
LATE_COMPLETION = "late_completion"  # inputs key of the note a completion after the lease passed leaves
SUPERSEDED_BY_NEWER = "Superseded before its runner started: a newer evaluation decided differently."


def _what_was_stopped(run: RunnerRun) -> str:
    if run.task_arn is not None:
        return f"its task {run.task_arn} was stopped"
    return "no task of it was known to stop (RunTask never answered); its deadline had passed"


def runner_timeout_s(target: TargetBase) -> int:
    timeout: int = getattr(target, "runner_timeout_s", DEFAULT_RUNNER_TIMEOUT_S)
    return timeout


@dataclass
class RunnerLeases:
    registry: TargetStore
    log: DecisionStore
    actuations: Actuations
    actuator_for: Callable[[Any], AnyActuator]
    clock: Callable[[], datetime]
    limits: ResourceLimits = DEFAULT_LIMITS

    # ---- during an evaluation -----------------------------------------------------------------
    def stop_expired(self, stored: StoredTarget, actuator: RunnerActuator, now: datetime) -> str | None:
        """Stop the runner whose lease expired at ``now``, if any. Returns None when the lease may pass
        (no expired runner, or its task is stopped or unknown), else why it may not."""
        run = runner_lease.expired_run(stored.state, now, runner_timeout_s(stored.target))
        if run is None:
            return None
        reference = run.task_arn or self._task_of(run.decision_id)
        if reference is None:
            # RunTask never answered: no task is known to stop; its own deadline has passed (runner_budget_s).
            logger().warning("expired runner has no known task", extra={"decision_id": run.decision_id})
            return None
        try:
            actuator.stop(stored.target, reference, f"Marea: the lease of decision {run.decision_id} expired")
        except ActuationError as exc:
            logger().error("expired runner not stopped", extra={"decision_id": run.decision_id, "error": exc.message})
            count("RunnerStopFailures", "kops")
            return f"the runner of decision {run.decision_id}, whose lease expired, could not be stopped: {exc.message}"
        count("RunnersStopped", "kops")
        return None

    def _task_of(self, decision_id: str) -> str | None:
        decision = self.log.get(decision_id, consistent=True)
        reference = decision.inputs.get("actuation_reference") if decision is not None else None
        return reference if isinstance(reference, str) else None

    def retire(self, plan: LeasePlan, timeout_s: int, target_id: str | None = None) -> None:
        """Close the decisions a committed plan retired: an expired runner's, a superseded queued one; then
        the target's other pending decisions the lease holds no more (``_close_strays``)."""
        closed: set[str] = set()
        try:
            if plan.expired is not None:
                self._close(
                    plan.expired.decision_id,
                    Outcome.FAILED,
                    ReasonCode.RUNNER_TIMEOUT,
                    error=f"the kops runner did not report within {timeout_s} s; {_what_was_stopped(plan.expired)}",
                )
                closed.add(plan.expired.decision_id)
            if plan.superseded is not None:
                self._close(
                    plan.superseded.decision_id,
                    Outcome.SKIPPED,
                    ReasonCode.SUPERSEDED,
                    because=SUPERSEDED_BY_NEWER,
                )
                closed.add(plan.superseded.decision_id)
            if target_id is not None:
                self._close_strays(target_id, plan, closed, timeout_s)
        except (ClientError, BotoCoreError) as exc:
            # The new decision is committed and must still start its runner; the retired one stays pending
            # until a later evaluation of the target closes it (_close_strays).
            logger().error("a retired runner decision could not be closed", extra={"error": str(exc)})

    def _close_strays(self, target_id: str, plan: LeasePlan, closed: set[str], timeout_s: int) -> None:
        """Close the target's pending decisions that the lease no longer names: retired by an evaluation whose
        close failed (or that died before it), which nothing else would close. One Query (the by-target-and-
        outcome index, which may lag: closing is conditional on pending); the target is re-read after it, so
        a decision committed meanwhile is found holding the lease, not taken for a stray."""
        held = {run.decision_id for run in (plan.in_flight, plan.queued) if run is not None} | closed
        pending, _ = self.log.query(DecisionQuery(target_id=target_id, outcome=Outcome.PENDING, limit=10))
        candidates = [d for d in pending if d.id not in held]
        stored = self.registry.get(target_id) if candidates else None
        if stored is None:
            return
        lease = {run.decision_id for run in (stored.state.in_flight, stored.state.queued) if run is not None}
        for stray in (d for d in candidates if d.id not in lease):
            logger().warning("stray runner decision closed", extra={"decision_id": stray.id})
            if "actuation_reference" in stray.inputs:  # its runner was started: its lease expired
                error = f"the kops runner did not report within {timeout_s} s; its lease passed on"
                self._close(stray.id, Outcome.FAILED, ReasonCode.RUNNER_TIMEOUT, error=error)
            else:
                because = SUPERSEDED_BY_NEWER
                self._close(stray.id, Outcome.SKIPPED, ReasonCode.SUPERSEDED, because=because)

    def _close(self, decision_id: str, outcome: Outcome, reason: ReasonCode, **details: Any) -> None:
        decision = self.log.get(decision_id, consistent=True)
        if decision is not None:
            self.actuations.close(decision, outcome, reason, **details)

    def launch(
        self, actuator: RunnerActuator, decision: Decision, committed: StoredTarget, unapplied: TargetState | None
    ) -> Decision:
        """Start the runner of a committed decision that holds the lease, with a deadline short of the lease.

        The runner's request goes onto the decision first (the runner reads it there; RunTask passes only the
        decision id); a decision closed meanwhile starts no runner. The target is taken within the stage's ceiling,
        as it was decided: a `floor` kops target's maxSize is its max, which may predate a lowered ceiling."""
        target = self.limits.within_ceiling(committed.target)
        budget = runner_lease.runner_budget_s(runner_timeout_s(target))
        deadline = self.clock() + timedelta(seconds=budget)
        try:
            if not self.log.attach_runner_request(
                decision.id, actuator.runner_request(target, decision.final, deadline)
            ):
                logger().warning("runner not started: its decision is closed", extra={"decision_id": decision.id})
                return self.log.get(decision.id, consistent=True) or decision
        except (ClientError, BotoCoreError) as exc:
            error = ActuationError(f"the kops runner's request could not be written on its decision: {exc}")
            failed = self.actuations.failed(decision, error, target)
            self.actuations.record_outcome(failed, committed, unapplied)
            return failed
        try:
            actuation = actuator.start(target, decision.final, decision.id, deadline)
        except ActuationError as exc:
            failed = self.actuations.failed(decision, exc, target)
            self.actuations.record_outcome(failed, committed, unapplied)
            return failed
        started = self.actuations.started(decision, actuation, target.kind)
        started = started.model_copy(update={"inputs": {**started.inputs, "runner_deadline": deadline.isoformat()}})
        self._record_start(target.id, decision.id, actuation.reference)
        self.actuations.record_outcome(started, committed, None)
        logger().info("runner started", extra={"decision_id": decision.id, "task": actuation.reference})
        return started

    def _record_start(self, target_id: str, decision_id: str, task_arn: str | None) -> None:
        """The lease runs from now, when RunTask returned; best effort (else it runs from the commit)."""
        at = self.clock()
        try:
            for _ in range(_LEASE_RETRIES):
                stored = self.registry.get(target_id)
                state = runner_lease.started(stored.state, decision_id, task_arn, at) if stored else None
                if stored is None or state is None:
                    return
                try:
                    self.registry.replace_state(stored, state)
                    return
                except VersionConflictError:
                    continue
        except (ClientError, BotoCoreError) as exc:
            logger().error(
                "runner start not recorded in the lease", extra={"decision_id": decision_id, "error": str(exc)}
            )

    # ---- when a runner stops ------------------------------------------------------------------
    def complete(
        self, decision_id: str, exit_code: int | None, stopped_reason: str, at: datetime, *, task_arn: str
    ) -> Decision | None:
        """A runner task stopped: its decision becomes applied or failed, the lease passes on.

        Returns None for a task Marea does not know, a decision already closed (a duplicate event),
        a runner whose lease had passed (noted on its decision), or a task that is not the decision's
        runner: ``startedBy`` is RunTask's caller's to choose, so only ``task_arn`` equal to the task
        RunTask answered with closes a decision; when that is unknown, only a decision carrying its runner's
        result (written by the runner role only) is closed, else the lease expiry closes it.
        """
        found = self.log.get_with_runner_result(decision_id)
        if found is None:
            return None
        decision, runner = found
        stored = self.registry.get(decision.target_id)
        in_flight = stored.state.in_flight if stored is not None else None
        holds = in_flight is not None and in_flight.decision_id == decision_id
        known_task = (in_flight.task_arn if holds and in_flight else None) or self._started_task(decision)
        # No task known (RunTask's every answer lost): only a runner's own result, which only the runner role
        # writes, vouches for the event; a task stopped before it ran, or of another definition, leaves none.
        if (known_task != task_arn) if known_task is not None else runner is None:
            logger().warning(
                "runner event of a task that is not the decision's runner ignored",
                extra={"decision_id": decision_id, "task_arn": task_arn, "runner_task_arn": known_task},
            )
            count("MismatchedRunnerEvents", "kops")
            return None
        if decision.outcome is not Outcome.PENDING or not holds:
            self._late(decision, runner, exit_code, holds, at)
            return None
        status = (runner or {}).get("status")
        if exit_code == 0 and status == "applied":
            closed = self.actuations.close(decision, Outcome.APPLIED, runner=runner)
        else:
            message = (runner or {}).get("message") or stopped_reason or f"exit code {exit_code}"
            error = f"kops runner {status or 'stopped'} (exit code {exit_code}): {message}"
            closed = self.actuations.close(
                decision, Outcome.FAILED, ReasonCode.RUNNER_FAILED, error=error, runner=runner
            )
        count("RunnerCompletions", "kops")
        self.pass_lease(decision.target_id, decision_id, at, made=closed.outcome is Outcome.APPLIED)
        return closed

    @staticmethod
    def _started_task(decision: Decision) -> str | None:
        """The task RunTask answered with, as the decision recorded it (the lease may have missed it)."""
        reference = decision.inputs.get("actuation_reference")
        return reference if isinstance(reference, str) else None

    def _late(
        self, decision: Decision, runner: dict[str, Any] | None, exit_code: int | None, holds: bool, at: datetime
    ) -> None:
        if holds:
            # A redelivered event. If the first delivery closed the decision but died before passing
            # the lease on, this one passes it.
            self.pass_lease(decision.target_id, decision.id, at)
            return
        if decision.outcome is not Outcome.PENDING and ReasonCode.RUNNER_TIMEOUT not in decision.reasons:
            return  # a redelivery of the event that closed it: nothing arrived late
        status = (runner or {}).get("status", "no result")
        note = (
            f"the runner's task stopped at {at.isoformat()} (exit code {exit_code}, runner status {status}) after "
            "its lease had passed; Marea ignored it"
        )
        logger().warning(
            "completion of a superseded runner ignored", extra={"decision_id": decision.id, "status": status}
        )
        count("LateRunnerCompletions", "kops")
        if decision.outcome is Outcome.PENDING:
            # Its lease expired but the evaluation that retired it could not close it: close it now.
            error = f"the kops runner did not report within its lease; {note}"
            self.actuations.close(decision, Outcome.FAILED, ReasonCode.RUNNER_TIMEOUT, error=error, runner=runner)
        elif LATE_COMPLETION not in decision.inputs:
            self.log.annotate_closed(decision, LATE_COMPLETION, note)

    def pass_lease(self, target_id: str, decision_id: str, at: datetime, *, made: bool = True) -> None:
        """Free the lease held by ``decision_id`` and start the queued decision, if it still holds.

        ``made``: the holder's change was made (else it leaves the history). The queued decision is
        checked against the target as it is now (paused, mode, [min, max]); a stale one is skipped
        as SUPERSEDED. One whose runner cannot start fails and frees the lease.
        """
        holder = decision_id
        for _ in range(_LEASE_RETRIES):
            stored = self.registry.get(target_id)
            if stored is None:
                return
            # The next lease runs from now (and from RunTask's return once recorded), never from the
            # event's time: a late task-state event must not hand the next runner an expired lease.
            state, nxt = runner_lease.after_runner_stopped(stored.state, holder, max(at, self.clock()))
            if state is stored.state:
                return
            if not made and stored.state.in_flight is not None:
                state = state.model_copy(
                    update={"history": forget_change(state.history, stored.state.in_flight.capacity)}
                )
            queued = self.log.get(nxt.decision_id, consistent=True) if nxt is not None else None
            if queued is not None and queued.outcome is not Outcome.PENDING:
                queued = None  # closed while it waited: nothing to start
            stale = reason_not_to_act(stored.target, nxt.capacity, self.limits) if nxt is not None else None
            if stale is not None or queued is None:
                state = state.model_copy(update={"in_flight": None})
            elif nxt is not None:
                # Its change counts from now, when its runner starts (it did not while it waited).
                history = remember_change(
                    state.history, stored.target, queued.action, queued.current, queued.final, queued.policy, nxt.since
                )
                state = state.model_copy(update={"history": history})
            try:
                committed = self.registry.replace_state(stored, state)
            except VersionConflictError:
                continue  # re-read and try again
            if queued is None or not self._start_queued(stored, committed, queued, stale):
                return
            holder, made = queued.id, False

    def _start_queued(self, stored: StoredTarget, committed: StoredTarget, queued: Decision, stale: str | None) -> bool:
        """Start (or retire) the queued decision; True when it failed to start and the lease must pass again."""
        if stale is not None:
            because = f"Superseded before its runner started: {stale}."
            self.actuations.close(queued, Outcome.SKIPPED, ReasonCode.SUPERSEDED, because=because)
            return False
        actuator = self.actuator_for(stored.target)
        if not isinstance(actuator, RunnerActuator):
            return False
        return self.launch(actuator, queued, committed, None).outcome is Outcome.FAILED
