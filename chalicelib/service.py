"""Orchestration: target → signal → decide → record → act. The only place these meet.

Order of effects (why): the decision and the target's new state are committed *before* the
cloud is called, with a condition on the decision id (duplicate events) and on the target's
version (racing evaluations). Only the winner of that commit acts, so no event acts twice and
no change is ever made without a decision recorded first.

A synchronous actuation (ASG, ECS) is *unsettled* from its commit until its outcome is recorded:
the commit marks the target's items with the decision id, the outcome write removes the mark in
the same transaction. If that write fails (the Lambda dies, DynamoDB throttles past the retries),
the next evaluation finds the mark and closes the decision: applied when the capacity reads the
decision's final, failed once ``pending_timeout`` has passed without that, so that no decision
stays pending and no change goes unexplained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.actuators.base import Actuator
from chalicelib.engine import decide, remember
from chalicelib.errors import ActuationError
from chalicelib.ids import decision_id
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.decisions import Action, Decision, EngineResult, Outcome, Trigger
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmObservation, Datapoint
from chalicelib.models.state import StoredTarget, TargetState, Unsettled
from chalicelib.models.targets import Mode
from chalicelib.observability import count, logger
from chalicelib.runner_lease import LeasePlan, after_runner_stopped, plan_lease
from chalicelib.signal_collector import MetricKey, SignalCollector
from chalicelib.store.decisions import DecisionLog
from chalicelib.store.targets import DuplicateDecisionError, TargetRegistry, VersionConflictError

Clock = Callable[[], datetime]
DEFAULT_RUNNER_TIMEOUT_S = 900
# How long an unsettled actuation may still be in flight: at least the Lambda timeout (.chalice/config.json).
DEFAULT_PENDING_TIMEOUT = timedelta(seconds=300)
_LEASE_RETRIES = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Evaluator:
    registry: TargetRegistry
    log: DecisionLog
    collector: SignalCollector
    actuator_for: Callable[[Any], Actuator]
    decision_ttl: timedelta
    clock: Clock = utc_now  # wall clock: ages of unsettled actuations, updated_at
    pending_timeout: timedelta = DEFAULT_PENDING_TIMEOUT

    def evaluate(
        self,
        stored: StoredTarget,
        trigger: Trigger,
        known_alarms: dict[str, AlarmObservation] | None = None,
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
    ) -> Decision:
        """Evaluate one target at ``trigger.at`` and return the recorded decision."""
        target = stored.target
        actuator = self.actuator_for(target)
        new_id = decision_id(trigger.at, event_id=trigger.event_id, target_id=target.id)
        try:
            reading = actuator.read(target)
        except ActuationError as exc:
            return self._record_unreadable(stored, trigger, new_id, exc)
        try:
            return self._evaluate_read(stored, trigger, new_id, actuator, reading, known_alarms or {}, known_metrics)
        except (ClientError, BotoCoreError) as exc:
            # An AWS call failed past its retries before the decision was committed (or the commit's
            # answer was lost): the event still gets its decision, failed with the error.
            return self._record_failed_evaluation(stored, trigger, new_id, exc)

    def _evaluate_read(
        self,
        stored: StoredTarget,
        trigger: Trigger,
        new_id: str,
        actuator: Actuator,
        reading: CapacityReading,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None,
    ) -> Decision:
        target = stored.target
        now = trigger.at
        clear_mark, busy_with = False, None
        if stored.unsettled is not None and not actuator.asynchronous:
            clear_mark, busy_with = self._settle_unsettled(stored, reading, new_id)
        signal = self.collector.collect(target, reading, now, known_alarms, known_metrics)
        result = decide(target, signal, stored.state.history, now)
        acting = target.mode is Mode.ACT and result.action is not Action.NONE and busy_with is None
        lease = None
        timeout_s: int = getattr(target, "runner_timeout_s", DEFAULT_RUNNER_TIMEOUT_S)
        if actuator.asynchronous:
            lease = plan_lease(stored.state, new_id, result.final, acting, now, timeout_s)
        decision = self._decision(
            stored, trigger, new_id, result, reading, signal.model_dump(mode="json"), acting, lease
        )
        if busy_with is not None and target.mode is Mode.ACT and result.action is not Action.NONE:
            decision = self._waiting(decision, busy_with)
        counted = acting if lease is None else lease.takes_new_decision
        state = TargetState(
            history=remember(stored.state.history, target, result, applied=counted, now=now),
            last_decision_id=new_id,
            in_flight=lease.in_flight if lease else None,
            queued=lease.queued if lease else None,
        )
        mark = Unsettled(decision_id=new_id, since=self.clock()) if acting and lease is None else None
        try:
            committed = self.registry.commit_evaluation(
                stored, state, decision, self._expires_at(now), mark=mark, clear_mark=clear_mark
            )
        except DuplicateDecisionError:
            logger().info(
                "duplicate event: decision already recorded", extra={"decision_id": new_id, "target_id": target.id}
            )
            count("DuplicateEvents")
            existing = self.log.get(new_id, consistent=True)
            return existing if existing is not None else decision
        except VersionConflictError:
            return self._record_superseded(decision)
        count("Evaluations", target.kind)
        if lease is not None:
            self._settle(lease, timeout_s)
        if decision.outcome is not Outcome.PENDING or (lease is not None and lease.launch is None):
            return decision
        # If the actuation fails, the committed history counted this change as made (and an
        # asynchronous actuator's lease as taken); without the correction the retry would wait for a cooldown.
        unapplied = TargetState(
            history=remember(stored.state.history, target, result, applied=False, now=now), last_decision_id=new_id
        )
        return self._actuate(actuator, decision, committed, unapplied)

    def _settle_unsettled(self, stored: StoredTarget, reading: CapacityReading, new_id: str) -> tuple[bool, str | None]:
        """Close the decision an earlier evaluation left unsettled, if its fate is known.

        Returns (the mark can be cleared, the id of a decision that may still be acting). A decision
        is applied when the capacity reads its final; failed when ``pending_timeout`` passed without
        that (its Lambda cannot be acting any more); otherwise it may still be in flight, and this
        evaluation must not act over it.
        """
        marker = stored.unsettled
        if marker is None or marker.decision_id == new_id:
            return False, None  # a redelivery of the event still acting: its commit will be a duplicate
        previous = self.log.get(marker.decision_id, consistent=True)
        if previous is None or previous.outcome is not Outcome.PENDING:
            return True, None
        if reading.current == previous.final:
            note = f"confirmed by a later evaluation ({new_id}): the capacity reads {reading.current}"
            self._close(previous, Outcome.APPLIED, None, None, None, note=note)
            return True, None
        age = self.clock() - marker.since
        if age >= self.pending_timeout:
            error = (
                f"actuation not confirmed: the capacity reads {reading.current}, not {previous.final}, "
                f"{int(age.total_seconds())} s after the decision, and its outcome was never recorded"
            )
            self._close(previous, Outcome.FAILED, ReasonCode.ACTUATION_UNCONFIRMED, error, None)
            return True, None
        return False, previous.id

    def _waiting(self, decision: Decision, busy_with: str) -> Decision:
        """This decision would act while an earlier one may still be acting: recorded, never acted on."""
        count("ActuationsInProgress")
        return decision.model_copy(
            update={
                "outcome": Outcome.SKIPPED,
                "final": decision.current,
                "action": Action.NONE,
                "reasons": [*decision.reasons, ReasonCode.ACTUATION_IN_PROGRESS],
                "explanation": f"Waiting: decision {busy_with} may still be changing {decision.target_id}, so this "
                f"one did not act (it would have chosen {decision.final}).",
            }
        )

    def complete_runner(
        self, decision_id: str, exit_code: int | None, stopped_reason: str, at: datetime
    ) -> Decision | None:
        """A runner task stopped: its decision becomes applied or failed, the lease passes on.

        Returns None for a task Marea does not know or a decision already closed (a duplicate event).
        """
        found = self.log.get_with_runner_result(decision_id)
        if found is None:
            return None
        if found[0].outcome is not Outcome.PENDING:
            # A redelivered event. If the first delivery closed the decision but died before passing
            # the lease on, this one passes it (a no-op when the lease has moved on already).
            self._pass_lease(found[0].target_id, decision_id, at)
            return None
        decision, runner = found
        status = (runner or {}).get("status")
        if exit_code == 0 and status == "applied":
            closed = self._close(decision, Outcome.APPLIED, None, None, runner)
        else:
            message = (runner or {}).get("message") or stopped_reason or f"exit code {exit_code}"
            error = f"kops runner {status or 'stopped'} (exit code {exit_code}): {message}"
            closed = self._close(decision, Outcome.FAILED, ReasonCode.RUNNER_FAILED, error, runner)
        count("RunnerCompletions", "kops")
        self._pass_lease(decision.target_id, decision_id, at)
        return closed

    def _pass_lease(self, target_id: str, decision_id: str, at: datetime) -> None:
        """Free the lease held by ``decision_id`` and start the queued decision, if any.

        A queued decision whose runner cannot start fails and frees the lease in turn.
        """
        holder = decision_id
        for _ in range(_LEASE_RETRIES):
            stored = self.registry.get(target_id)
            if stored is None:
                return
            state, nxt = after_runner_stopped(stored.state, holder, at)
            if state is stored.state:
                return
            try:
                committed = self.registry.replace_state(stored, state)
            except VersionConflictError:
                continue  # re-read and try again
            queued = self.log.get(nxt.decision_id) if nxt is not None else None
            if (
                queued is None
                or self._actuate(self.actuator_for(stored.target), queued, committed).outcome is not Outcome.FAILED
            ):
                return
            holder = queued.id

    def _settle(self, lease: LeasePlan, timeout_s: int) -> None:
        """Close the decisions the lease plan retired: a timed-out runner, a superseded queued one."""
        try:
            if lease.expired is not None:
                expired = self.log.get(lease.expired.decision_id)
                if expired is not None:
                    message = f"the kops runner did not report within {timeout_s} s"
                    self._close(expired, Outcome.FAILED, ReasonCode.RUNNER_TIMEOUT, message, None)
            if lease.superseded is not None:
                superseded = self.log.get(lease.superseded.decision_id)
                if superseded is not None:
                    self._close(superseded, Outcome.SKIPPED, ReasonCode.SUPERSEDED, None, None)
        except (ClientError, BotoCoreError) as exc:
            # The new decision is committed and must still start its runner; the retired one stays pending.
            logger().error("a retired runner decision could not be closed", extra={"error": str(exc)})

    def _close(
        self,
        decision: Decision,
        outcome: Outcome,
        reason: ReasonCode | None,
        error: str | None,
        runner: Any,
        note: str | None = None,
    ) -> Decision:
        reasons = [*decision.reasons, reason] if reason else decision.reasons
        inputs = {**decision.inputs, "runner_result": runner} if runner is not None else decision.inputs
        if note is not None:
            inputs = {**inputs, "actuation": note}
        closed = decision.model_copy(
            update={
                "outcome": outcome,
                "reasons": reasons,
                "error": error,
                "inputs": inputs,
                "updated_at": self.clock(),
            }
        )
        if not self.log.finalize_if_pending(closed):
            return self.log.get(decision.id) or decision
        logger().info("decision closed", extra={"decision_id": decision.id, "outcome": outcome})
        return closed

    def _actuate(
        self, actuator: Actuator, decision: Decision, stored: StoredTarget, unapplied: TargetState | None = None
    ) -> Decision:
        """Apply a committed decision and record its outcome (``unapplied``: the state to write if it fails)."""
        final = self._apply(actuator, decision, stored)
        self._record_outcome(final, stored, unapplied if final.outcome is Outcome.FAILED else None)
        logger().info("decision", extra={"decision_id": final.id, "outcome": final.outcome, "final": final.final})
        return final

    def _apply(self, actuator: Actuator, decision: Decision, stored: StoredTarget) -> Decision:
        try:
            actuation = actuator.apply(stored.target, decision.final, decision.id)
        except ActuationError as exc:
            confirmed = self._reads_final(actuator, stored, decision)
            if confirmed is not None:
                # The call failed as seen from here (a timeout, a lost answer) but the change was made.
                count("Actuations", stored.target.kind)
                note = f"the call reported an error ({exc.message}), but the capacity reads {confirmed}"
                return decision.model_copy(
                    update={
                        "outcome": Outcome.APPLIED,
                        "inputs": {**decision.inputs, "actuation": note},
                        "updated_at": self.clock(),
                    }
                )
            logger().error("actuation failed", extra={"decision_id": decision.id, "error": exc.message})
            count("ActuationFailures", stored.target.kind)
            return decision.model_copy(
                update={
                    "outcome": Outcome.FAILED,
                    "error": exc.message,
                    "reasons": [*decision.reasons, ReasonCode.ACTUATION_FAILED],
                    "updated_at": self.clock(),
                }
            )
        count("Actuations", stored.target.kind)
        return decision.model_copy(
            update={
                "outcome": Outcome.PENDING if actuation.pending else Outcome.APPLIED,
                "inputs": {
                    **decision.inputs,
                    "actuation": actuation.note,
                    "actuation_reference": actuation.reference,
                },
                "updated_at": self.clock(),
            }
        )

    def _reads_final(self, actuator: Actuator, stored: StoredTarget, decision: Decision) -> int | None:
        """After a failed synchronous change: the capacity if it reads the decision's final, else None."""
        if actuator.asynchronous:
            return None
        try:
            current = actuator.read(stored.target).current
        except ActuationError:
            return None
        return current if current == decision.final else None

    def _record_outcome(self, final: Decision, stored: StoredTarget, unapplied: TargetState | None) -> None:
        """Write the outcome; a write that fails leaves the decision for the next evaluation to settle."""
        try:
            if stored.unsettled is not None and stored.unsettled.decision_id == final.id:
                recorded = self.registry.settle_actuation(stored, final, unapplied)
            else:
                recorded = self.log.finalize_if_pending(final)
                if recorded and unapplied is not None:
                    self._replace_state(stored, unapplied)
        except (ClientError, BotoCoreError) as exc:
            count("UnrecordedOutcomes")
            logger().error(
                "outcome not recorded: the next evaluation settles the decision",
                extra={"decision_id": final.id, "outcome": final.outcome, "error": str(exc)},
            )
            return
        if not recorded:
            logger().warning("decision was closed by another evaluation first", extra={"decision_id": final.id})

    def _replace_state(self, stored: StoredTarget, state: TargetState) -> None:
        try:
            self.registry.replace_state(stored, state)
        except VersionConflictError:
            logger().warning(
                "state changed before a failed actuation was uncounted", extra={"decision_id": state.last_decision_id}
            )

    def _decision(
        self,
        stored: StoredTarget,
        trigger: Trigger,
        new_id: str,
        result: EngineResult,
        reading: CapacityReading,
        signal: dict[str, Any],
        acting: bool,
        lease: LeasePlan | None,
    ) -> Decision:
        target = stored.target
        reasons = list(result.reasons)
        if target.mode is Mode.ADVISE:
            outcome = Outcome.RECOMMENDED
            reasons.append(ReasonCode.ADVISE_MODE)
        elif acting and lease is not None:
            outcome = Outcome.PENDING if lease.takes_new_decision else Outcome.SKIPPED
            reasons.extend(r for r in (lease.reason,) if r is not None)
        else:
            outcome = Outcome.PENDING if acting else Outcome.SKIPPED
        return Decision(
            id=new_id,
            target_id=target.id,
            target_kind=target.kind,
            trigger=trigger,
            mode=target.mode,
            current=result.current,
            proposed=result.proposed,
            final=result.final,
            action=result.action,
            policy=result.policy,
            outcome=outcome,
            reasons=reasons,
            explanation=result.explanation,
            policy_results=result.policy_results,
            inputs={
                "capacity": reading.details | {"current": reading.current},
                "resource_bounds": signal["resource_bounds"],
                "metrics": signal["metrics"],
                "alarms": signal["alarms"],
                "effective_min": result.effective_min,
                "effective_max": result.effective_max,
                "target_min": target.min,
                "target_max": target.max,
            },
            created_at=trigger.at,
        )

    def _record_unreadable(self, stored: StoredTarget, trigger: Trigger, new_id: str, exc: ActuationError) -> Decision:
        explanation = f"Could not read the current capacity, so nothing was decided: {exc.message}"
        return self._record_failure(stored, trigger, new_id, ReasonCode.RESOURCE_UNREADABLE, explanation, exc.message)

    def _record_failed_evaluation(
        self, stored: StoredTarget, trigger: Trigger, new_id: str, exc: ClientError | BotoCoreError
    ) -> Decision:
        logger().error("evaluation failed", extra={"decision_id": new_id, "target_id": stored.target.id})
        error = f"{type(exc).__name__}: {exc}"
        explanation = f"An AWS call failed, so nothing was decided or changed: {error}"
        return self._record_failure(stored, trigger, new_id, ReasonCode.EVALUATION_FAILED, explanation, error)

    def _record_failure(
        self, stored: StoredTarget, trigger: Trigger, new_id: str, reason: ReasonCode, explanation: str, error: str
    ) -> Decision:
        count("EvaluationFailures", stored.target.kind)
        decision = Decision(
            id=new_id,
            target_id=stored.target.id,
            target_kind=stored.target.kind,
            trigger=trigger,
            mode=stored.target.mode,
            current=0,
            proposed=0,
            final=0,
            action=Action.NONE,
            policy=None,
            outcome=Outcome.FAILED,
            reasons=[reason],
            explanation=explanation,
            policy_results=[],
            error=error,
            created_at=trigger.at,
        )
        if not self.log.put_new(decision, self._expires_at(trigger.at)):
            return self.log.get(new_id, consistent=True) or decision
        return decision

    def _record_superseded(self, decision: Decision) -> Decision:
        """A racing evaluation or API write changed the target first: record, never act."""
        count("ConcurrentEvaluations")
        skipped = decision.model_copy(
            update={
                "outcome": Outcome.SKIPPED,
                "final": decision.current,
                "action": Action.NONE,
                "reasons": [*decision.reasons, ReasonCode.CONCURRENT_EVALUATION],
                "explanation": f"Superseded: another evaluation of {decision.target_id} committed first, so this one "
                f"did not act (it would have chosen {decision.final}).",
            }
        )
        if not self.log.put_new(skipped, self._expires_at(decision.created_at)):
            return self.log.get(decision.id, consistent=True) or skipped
        return skipped

    def _expires_at(self, now: datetime) -> int:
        return int((now + self.decision_ttl).timestamp())
