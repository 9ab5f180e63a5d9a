"""Orchestration: target → signal → decide → record → act. The only place these meet.

Order of effects (why): the decision and the target's new state are committed *before* the
cloud is called, with a condition on the decision id (duplicate events) and on the target's
version (racing evaluations). Only the winner of that commit acts, so no event acts twice and
no change is ever made without a decision recorded first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.actuators.base import Actuator, CapacityReading
from chalicelib.engine import decide, remember
from chalicelib.errors import ActuationError, ReasonCode
from chalicelib.ids import decision_id
from chalicelib.models.decisions import Action, Decision, EngineResult, Outcome, Trigger
from chalicelib.models.signals import AlarmObservation, Datapoint
from chalicelib.models.targets import Mode
from chalicelib.observability import count, logger
from chalicelib.signal_collector import MetricKey, SignalCollector
from chalicelib.store.decisions import DecisionLog
from chalicelib.store.items import StoredTarget, TargetState
from chalicelib.store.targets import DuplicateDecisionError, TargetRegistry, VersionConflictError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Evaluator:
    registry: TargetRegistry
    log: DecisionLog
    collector: SignalCollector
    actuator_for: Callable[[Any], Actuator]
    decision_ttl: timedelta

    def evaluate(
        self,
        stored: StoredTarget,
        trigger: Trigger,
        known_alarms: dict[str, AlarmObservation] | None = None,
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
    ) -> Decision:
        """Evaluate one target at ``trigger.at`` and return the recorded decision."""
        target = stored.target
        now = trigger.at
        actuator = self.actuator_for(target)
        new_id = decision_id(now, event_id=trigger.event_id, target_id=target.id)
        try:
            reading = actuator.read(target)
        except ActuationError as exc:
            return self._record_unreadable(stored, trigger, new_id, exc)
        signal = self.collector.collect(target, reading, now, known_alarms or {}, known_metrics)
        result = decide(target, signal, stored.state.history, now)
        acting = target.mode is Mode.ACT and result.action is not Action.NONE
        decision = self._decision(stored, trigger, new_id, result, reading, signal.model_dump(mode="json"), acting)
        state = TargetState(
            history=remember(stored.state.history, target, result, applied=acting, now=now), last_decision_id=new_id
        )
        try:
            committed = self.registry.commit_evaluation(stored, state, decision, self._expires_at(now))
        except DuplicateDecisionError:
            logger().info(
                "duplicate event: decision already recorded", extra={"decision_id": new_id, "target_id": target.id}
            )
            count("DuplicateEvents")
            existing = self.log.get(new_id)
            return existing if existing is not None else decision
        except VersionConflictError:
            return self._record_superseded(decision)
        count("Evaluations", target.kind)
        if not acting:
            return decision
        final = self._actuate(actuator, decision, committed)
        if final.outcome is Outcome.FAILED:
            # The committed history counted this change as made; without the correction a failed
            # scale-out would start a cooldown and delay the retry the next tick should make.
            unapplied = remember(stored.state.history, target, result, applied=False, now=now)
            try:
                self.registry.replace_state(committed, TargetState(history=unapplied, last_decision_id=new_id))
            except VersionConflictError:
                logger().warning("state changed before a failed actuation was uncounted", extra={"decision_id": new_id})
        return final

    def _actuate(self, actuator: Actuator, decision: Decision, stored: StoredTarget) -> Decision:
        try:
            note = actuator.apply(stored.target, decision.final)
        except ActuationError as exc:
            logger().error("actuation failed", extra={"decision_id": decision.id, "error": exc.message})
            count("ActuationFailures", stored.target.kind)
            final = decision.model_copy(
                update={
                    "outcome": Outcome.FAILED,
                    "error": exc.message,
                    "reasons": [*decision.reasons, ReasonCode.ACTUATION_FAILED],
                    "updated_at": utc_now(),
                }
            )
        else:
            count("Actuations", stored.target.kind)
            final = decision.model_copy(
                update={
                    "outcome": Outcome.APPLIED,
                    "inputs": {**decision.inputs, "actuation": note},
                    "updated_at": utc_now(),
                }
            )
        self.log.finalize(final)
        logger().info("decision", extra={"decision_id": final.id, "outcome": final.outcome, "final": final.final})
        return final

    def _decision(
        self,
        stored: StoredTarget,
        trigger: Trigger,
        new_id: str,
        result: EngineResult,
        reading: CapacityReading,
        signal: dict[str, Any],
        acting: bool,
    ) -> Decision:
        target = stored.target
        reasons = list(result.reasons)
        if target.mode is Mode.ADVISE:
            outcome = Outcome.RECOMMENDED
            reasons.append(ReasonCode.ADVISE_MODE)
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
            reasons=[ReasonCode.RESOURCE_UNREADABLE],
            explanation=f"Could not read the current capacity, so nothing was decided: {exc.message}",
            policy_results=[],
            error=exc.message,
            created_at=trigger.at,
        )
        if not self.log.put_new(decision, self._expires_at(trigger.at)):
            return self.log.get(new_id) or decision
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
            return self.log.get(decision.id) or skipped
        return skipped

    def _expires_at(self, now: datetime) -> int:
        return int((now + self.decision_ttl).timestamp())
