"""Orchestration of one evaluation: read → decide → commit → act. The only place these meet.

Order of effects (why): the decision and the target's new state are committed *before* the
cloud is called, with a condition on the event's dedup key (duplicate events) and on the target's
version (racing evaluations). Only the winner of that commit acts, so no event acts twice and no
change is ever made without a decision recorded first. What happens to a committed change whose
outcome is not recorded is unsettled.py's; the kops runner's lease is runner_leases.py's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import decision_records
from chalicelib.access_errors import expired, unreachable
from chalicelib.actuation import Actuations
from chalicelib.actuators.base import Actuator, AnyActuator, RunnerActuator
from chalicelib.engine import decide, remember
from chalicelib.engine.history import forget_change
from chalicelib.errors import ActuationError
from chalicelib.evaluation import Evaluation, evaluation_instant
from chalicelib.ids import decision_id, dedup_key
from chalicelib.models.decisions import Action, Decision, EngineResult, Outcome, Trigger
from chalicelib.models.location import Location
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmObservation, Datapoint
from chalicelib.models.state import StoredTarget, TargetState, Unsettled
from chalicelib.models.targets import Mode
from chalicelib.observability import count, logger
from chalicelib.resource_limits import CEILING_SETTINGS, DEFAULT_LIMITS, ResourceLimits
from chalicelib.runner_lease import LeasePlan, plan_lease
from chalicelib.runner_leases import RunnerLeases, runner_timeout_s
from chalicelib.shared_reads import SharedReads, SignalSource, read_together
from chalicelib.signal_collector import MetricKey, SharedSignals
from chalicelib.store.protocols import DecisionStore, TargetStore
from chalicelib.store.targets import DuplicateDecisionError, VersionConflictError
from chalicelib.unsettled import DEFAULT_PENDING_TIMEOUT, Settlement, UnsettledRecovery

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Prepared:
    """An evaluation's decision and the writes that record it, before the commit."""

    decision: Decision
    result: EngineResult
    state: TargetState
    mark: Unsettled | None
    clear_mark: bool
    lease: LeasePlan | None


@dataclass
class Evaluator:
    registry: TargetStore
    log: DecisionStore
    collector: SignalSource
    actuator_for: Callable[[Any], AnyActuator]
    decision_ttl: timedelta
    clock: Clock = utc_now  # wall clock: when evaluations read their inputs, ages of unsettled actuations
    pending_timeout: timedelta = DEFAULT_PENDING_TIMEOUT
    limits: ResourceLimits = DEFAULT_LIMITS  # what the stage lets Marea manage, checked before anything acts
    # Drops a location's clients and role session after its token was refused, so the next evaluation
    # assumes the role again (aws.forget); nothing to drop in unit tests.
    forget_session: Callable[[Location], None] = lambda _: None

    # Built once; they read the clock through the evaluator, so a clock swapped on a live evaluator
    # (the demo's simulated time, tests) is theirs too.
    @cached_property
    def actuations(self) -> Actuations:
        return Actuations(self.registry, self.log, self._now)

    @cached_property
    def leases(self) -> RunnerLeases:
        return RunnerLeases(self.registry, self.log, self.actuations, self.actuator_for, self._now, self.limits)

    @property
    def unsettled(self) -> UnsettledRecovery:
        return UnsettledRecovery(self.registry, self.log, self.actuations, self._now, self.pending_timeout, self.limits)

    def _now(self) -> datetime:
        return self.clock()

    def read_together(
        self,
        targets: Sequence[StoredTarget],
        trigger: Trigger,
        known_alarms: dict[str, AlarmObservation] | None = None,
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
    ) -> SharedReads:
        """The reads ``evaluate`` would make for each of ``targets``, made together now (never before
        ``trigger.at``): capacities in as few describe calls as each kind allows, then the signals of
        the targets whose capacity could be read (docs/scaling-marea.md, "Batched reads")."""
        at = evaluation_instant(trigger.at, self.clock())
        reachable = [s for s in targets if self.limits.place_refusal(s.target) is None]
        return read_together(reachable, at, self.actuator_for, self.collector, known_alarms or {}, known_metrics)

    def evaluate(
        self,
        stored: StoredTarget,
        trigger: Trigger,
        known_alarms: dict[str, AlarmObservation] | None = None,
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
        shared: SharedReads | None = None,
    ) -> Decision:
        """Evaluate one target now (never before ``trigger.at``) and return the recorded decision.

        ``shared``: what its batch read together (``read_together``); the evaluation then reads its
        inputs at the batch's instant and reads itself only what the batch did not.
        """
        at = shared.at if shared is not None else evaluation_instant(trigger.at, self.clock())
        target = stored.target
        actuator = self.actuator_for(target)
        new_id, dedup = decision_id(at), dedup_key(trigger.event_id, target.id)
        place = self.limits.place_refusal(target)
        if place is not None:  # not even read: assuming a role there is the access the stage withholds
            count("ResourcesNotAllowed", target.kind)
            explanation = f"Not read, so nothing was decided: {place}"
            refused = decision_records.failure(
                new_id, trigger, target, at, ReasonCode.RESOURCE_NOT_ALLOWED, explanation, place
            )
            return self._record_failure(refused, dedup)
        try:
            read_before = shared.readings.get(target.id) if shared is not None else None
            if isinstance(read_before, ActuationError):
                raise read_before
            reading = read_before if read_before is not None else actuator.read(target)
        except ActuationError as exc:
            explanation = f"Could not read the current capacity, so nothing was decided: {exc.message}"
            failed = decision_records.failure(
                new_id,
                trigger,
                target,
                at,
                ReasonCode.RESOURCE_UNREADABLE,
                explanation,
                exc.message,
                unreachable=self._unreachable(exc.__cause__, target.location),
            )
            return self._record_failure(failed, dedup)
        evaluation = Evaluation(stored, trigger, new_id, dedup, at, actuator, reading)
        try:
            signals = shared.signals if shared is not None else None
            prepared, evaluation = self._prepare(evaluation, known_alarms or {}, known_metrics, signals)
        except (ClientError, BotoCoreError) as exc:
            return self._record_failed_evaluation(evaluation, exc)
        return self._commit(evaluation, prepared)

    # ---- before the commit --------------------------------------------------------------------
    def _prepare(
        self,
        evaluation: Evaluation,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None,
        shared: SharedSignals | None,
    ) -> tuple[Prepared, Evaluation]:
        actuator = evaluation.actuator
        settlement = Settlement()
        marker = evaluation.stored.unsettled
        own_mark = marker is not None and marker.dedup is not None and marker.dedup == evaluation.dedup
        if marker is not None and not own_mark and not isinstance(actuator, RunnerActuator):
            settlement = self.unsettled.settle(evaluation.stored, actuator, evaluation.reading, evaluation.decision_id)
            if settlement.resumed is not None:
                evaluation = self._reread(evaluation, actuator)
                settlement = settlement.after_resuming(evaluation.stored)
        stored, target, at = evaluation.stored, evaluation.target, evaluation.at
        signal = self.collector.collect(target, evaluation.reading, at, known_alarms, known_metrics, shared)
        # A target written before the stage's ceiling was lowered is decided within it: nothing acts above it.
        result = decide(self.limits.within_ceiling(target), signal, stored.state.history, at)
        wants_change = target.mode is Mode.ACT and result.action is not Action.NONE
        # A target registered before the stage's allow-list left it out is evaluated and recorded, never acted on.
        refusal = self.limits.refusal(target)
        acting = wants_change and settlement.busy_with is None and refusal is None
        outcome, extra = decision_records.initial_outcome(target.mode, acting)
        lease = None
        if isinstance(actuator, RunnerActuator):
            lease, outcome, extra = self._plan_lease(evaluation, actuator, result, acting, outcome, extra)
        decision = decision_records.evaluated(evaluation, result, signal.model_dump(mode="json"), outcome, extra)
        ceiling = self.limits.ceiling(target)
        if ceiling is not None and target.max > ceiling:
            decision = decision_records.within_ceiling(decision, ceiling, CEILING_SETTINGS[target.kind], target.max)
        if refusal is not None:
            count("ResourcesNotAllowed", target.kind)
            decision = decision_records.not_allowed(decision, refusal, would_act=wants_change)
        elif settlement.busy_with is not None and wants_change:
            count("ActuationsInProgress")
            decision = decision_records.waiting(decision, settlement.busy_with)
        # A kops change counts (its cooldowns start) when its runner starts, not while it is queued; a
        # runner whose lease expired never made its change.
        counted = acting if lease is None else lease.reason is ReasonCode.RUNNER_STARTED
        history = stored.state.history
        if lease is not None and lease.expired is not None:
            history = forget_change(history, lease.expired.capacity)
        state = TargetState(
            history=remember(history, target, result, applied=counted, now=at),
            last_decision_id=evaluation.decision_id,
            in_flight=lease.in_flight if lease else None,
            queued=lease.queued if lease else None,
        )
        mark = None
        if acting and lease is None:
            mark = Unsettled(decision_id=evaluation.decision_id, since=self.clock(), dedup=evaluation.dedup)
        return Prepared(decision, result, state, mark, settlement.clear_mark, lease), evaluation

    def _reread(self, evaluation: Evaluation, actuator: Actuator) -> Evaluation:
        """After carrying out an earlier decision: the target and its capacity as they are now (or, if
        either cannot be read, as they were: this evaluation then decides on what it read first)."""
        stored = self.registry.get(evaluation.target.id)
        if stored is None:
            return evaluation
        try:
            reading = actuator.read(stored.target)
        except ActuationError:
            return evaluation
        return Evaluation(
            stored, evaluation.trigger, evaluation.decision_id, evaluation.dedup, evaluation.at, actuator, reading
        )

    def _plan_lease(
        self,
        evaluation: Evaluation,
        actuator: RunnerActuator,
        result: EngineResult,
        acting: bool,
        outcome: Outcome,
        extra: list[ReasonCode],
    ) -> tuple[LeasePlan, Outcome, list[ReasonCode]]:
        stored = evaluation.stored
        not_stopped = self.leases.stop_expired(stored, actuator, evaluation.at)
        lease = plan_lease(
            stored.state,
            evaluation.decision_id,
            result.final,
            acting,
            evaluation.at,
            runner_timeout_s(stored.target),
            expired_stopped=not_stopped is None,
            blind=evaluation.target.mode is Mode.ACT and ReasonCode.HOLD_ON_MISSING_DATA in result.reasons,
        )
        if not_stopped is not None:
            extra = [*extra, ReasonCode.RUNNER_NOT_STOPPED]
        if acting:
            outcome = Outcome.PENDING if lease.takes_new_decision else Outcome.SKIPPED
            extra = [*extra, *(r for r in (lease.reason,) if r is not None)]
        return lease, outcome, extra

    # ---- the commit and after -------------------------------------------------------------------
    def _commit(self, evaluation: Evaluation, prepared: Prepared) -> Decision:
        decision = prepared.decision
        try:
            committed = self.registry.commit_evaluation(
                evaluation.stored,
                prepared.state,
                decision,
                self._expires_at(evaluation.at),
                mark=prepared.mark,
                clear_mark=prepared.clear_mark,
                dedup=evaluation.dedup,
            )
        except DuplicateDecisionError:
            return self._duplicate(evaluation, prepared)
        except VersionConflictError:
            return self._record_raced(decision, evaluation.dedup)
        except (ClientError, BotoCoreError) as exc:
            return self._after_lost_commit(evaluation, prepared, exc)
        count("Evaluations", evaluation.target.kind)
        return self._carry_out(evaluation, prepared, committed)

    def _carry_out(self, evaluation: Evaluation, prepared: Prepared, committed: StoredTarget) -> Decision:
        """Act on a decision this evaluation committed (it has not acted yet)."""
        decision, lease, actuator = prepared.decision, prepared.lease, evaluation.actuator
        if lease is not None:
            self.leases.retire(lease, runner_timeout_s(evaluation.target), evaluation.target.id)
        if decision.outcome is not Outcome.PENDING or (lease is not None and lease.launch is None):
            return decision
        # If the actuation fails, the committed history counted this change as made (and the lease as
        # taken); without the correction the retry would wait for a cooldown.
        stored = evaluation.stored
        unapplied = TargetState(
            history=remember(stored.state.history, stored.target, prepared.result, applied=False, now=evaluation.at),
            last_decision_id=decision.id,
        )
        if isinstance(actuator, RunnerActuator):
            run = committed.state.in_flight
            if run is None or run.decision_id != decision.id:
                return self.log.get(decision.id, consistent=True) or decision  # its lease was retired meanwhile
            return self.leases.launch(actuator, decision, committed, unapplied)
        if not self.registry.claim_actuation(committed, decision.id, by=decision.id):
            # A later evaluation found this decision unacted and carried it out (unsettled.py).
            logger().warning("decision carried out by another evaluation", extra={"decision_id": decision.id})
            return self.log.get(decision.id, consistent=True) or decision
        return self.actuations.act(actuator, decision, committed, unapplied)

    # ---- a commit whose answer was lost, a redelivered event ----------------------------------
    def _duplicate(self, evaluation: Evaluation, prepared: Prepared) -> Decision:
        """The event's evaluation of this target was recorded before: return it, acting on it if it never acted."""
        existing = self.log.get_by_dedup(evaluation.dedup) if evaluation.dedup else None
        if existing is None:
            existing = self.log.get(evaluation.decision_id, consistent=True)
        if existing is None:
            raise RuntimeError(f"duplicate of a decision that cannot be read ({evaluation.decision_id})")
        if existing.id == evaluation.decision_id:
            return self._carry_out_own(evaluation, prepared)  # its own commit, retried after a lost answer
        logger().info(
            "duplicate event: decision already recorded",
            extra={"decision_id": existing.id, "target_id": evaluation.target.id},
        )
        count("DuplicateEvents")
        return self._resume_redelivered(evaluation, existing)

    def _after_lost_commit(self, evaluation: Evaluation, prepared: Prepared, error: Exception) -> Decision:
        """The commit's answer was lost: if it went through, this evaluation has not acted yet and acts now."""
        try:
            committed = self.log.get(evaluation.decision_id, consistent=True)
        except (ClientError, BotoCoreError):
            raise error from None  # the invocation fails and is retried: the redelivery finds what was committed
        if committed is None:
            return self._record_failed_evaluation(evaluation, error)
        return self._carry_out_own(evaluation, prepared)

    def _carry_out_own(self, evaluation: Evaluation, prepared: Prepared) -> Decision:
        """This evaluation's commit went through but its answer never arrived: go on as if it had."""
        logger().warning(
            "commit answer lost, but the commit went through", extra={"decision_id": evaluation.decision_id}
        )
        stored = self.registry.get(evaluation.target.id)
        if stored is None:
            return prepared.decision
        noted = prepared.decision.model_copy(
            update={"inputs": {**prepared.decision.inputs, "resumed": "carried out after its commit's answer was lost"}}
        )
        return self._carry_out(evaluation, replace(prepared, decision=noted), stored)

    def _resume_redelivered(self, evaluation: Evaluation, existing: Decision) -> Decision:
        """A redelivered event whose first delivery committed a change and died before acting: act on it.

        Only a synchronous change: a kops decision's lease holds it until it expires (its first
        delivery may still be starting the runner).
        """
        stored = self.registry.get(existing.target_id)
        actuator = evaluation.actuator
        marker = stored.unsettled if stored is not None else None
        if (
            existing.outcome is not Outcome.PENDING
            or stored is None
            or marker is None
            or marker.decision_id != existing.id
            or marker.claimed
            or isinstance(actuator, RunnerActuator)
            or not self.registry.claim_actuation(stored, existing.id, by=evaluation.decision_id)
        ):
            return existing
        return self.unsettled.resume(stored, actuator, existing, "carried out by the redelivery of its event")

    # ---- decisions that do not act -------------------------------------------------------------
    def _record_failed_evaluation(self, evaluation: Evaluation, exc: Exception) -> Decision:
        logger().error(
            "evaluation failed", extra={"decision_id": evaluation.decision_id, "target_id": evaluation.target.id}
        )
        location = evaluation.target.location
        hint = unreachable(exc, location)
        error = f"{type(exc).__name__}: {exc}" + (f" ({hint})" if hint else "")
        explanation = f"An AWS call failed, so nothing was decided or changed: {error}"
        failed = decision_records.failure(
            evaluation.decision_id,
            evaluation.trigger,
            evaluation.target,
            evaluation.at,
            ReasonCode.EVALUATION_FAILED,
            explanation,
            error,
            unreachable=self._unreachable(exc, location),
        )
        return self._record_failure(failed, evaluation.dedup)

    def _unreachable(self, error: BaseException | None, location: Location) -> bool:
        """Whether ``error`` kept Marea from reaching ``location``; a refused token is dropped, to be renewed."""
        if unreachable(error, location) is None:
            return False
        if expired(error):
            self.forget_session(location)
        return True

    def _record_failure(self, decision: Decision, dedup: str | None) -> Decision:
        count("EvaluationFailures", decision.target_kind)
        return self._record_new(decision, dedup)

    def _record_raced(self, decision: Decision, dedup: str | None) -> Decision:
        """A racing evaluation or API write changed the target first: record, never act."""
        count("ConcurrentEvaluations")
        return self._record_new(decision_records.raced(decision), dedup)

    def _record_new(self, decision: Decision, dedup: str | None) -> Decision:
        if self.log.put_new(decision, self._expires_at(decision.created_at), dedup):
            return decision
        existing = self.log.get_by_dedup(dedup) if dedup else None
        return existing or self.log.get(decision.id, consistent=True) or decision

    def complete_runner(
        self, decision_id: str, exit_code: int | None, stopped_reason: str, at: datetime, *, task_arn: str
    ) -> Decision | None:
        """A runner task stopped (runner_leases.RunnerLeases.complete)."""
        return self.leases.complete(decision_id, exit_code, stopped_reason, at, task_arn=task_arn)

    def _expires_at(self, now: datetime) -> int:
        return int((now + self.decision_ttl).timestamp())
