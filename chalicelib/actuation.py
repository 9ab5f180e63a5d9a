"""Carrying out a committed decision and recording what became of it.

Shared by the evaluator (synchronous changes), the unsettled-actuation recovery and the runner
lease (starting a queued kops runner): each acts only on a decision already committed as pending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import decision_records
from chalicelib.access_errors import unreachable
from chalicelib.actuators.base import Actuation, Actuator
from chalicelib.errors import ActuationError
from chalicelib.models.decisions import Decision, Outcome
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.state import StoredTarget, TargetState
from chalicelib.models.targets import Target
from chalicelib.observability import count, logger
from chalicelib.store.protocols import DecisionStore, TargetStore
from chalicelib.store.targets import VersionConflictError

Clock = Callable[[], datetime]


@dataclass
class Actuations:
    registry: TargetStore
    log: DecisionStore
    clock: Clock

    def act(
        self, actuator: Actuator, decision: Decision, stored: StoredTarget, unapplied: TargetState | None = None
    ) -> Decision:
        """Apply a committed decision and record its outcome (``unapplied``: the state to write if it fails)."""
        final = self._apply(actuator, decision, stored)
        self.record_outcome(final, stored, unapplied if final.outcome is Outcome.FAILED else None)
        logger().info("decision", extra={"decision_id": final.id, "outcome": final.outcome, "final": final.final})
        return final

    def started(self, decision: Decision, actuation: Actuation, kind: str) -> Decision:
        """A change that was started and completes later (a runner task): still pending, with its reference."""
        count("Actuations", kind)
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

    def failed(self, decision: Decision, error: ActuationError, target: Target) -> Decision:
        logger().error("actuation failed", extra={"decision_id": decision.id, "error": error.message})
        count("ActuationFailures", target.kind)
        reasons = [*decision.reasons, ReasonCode.ACTUATION_FAILED]
        if unreachable(error.__cause__, target.location) is not None:
            reasons.append(ReasonCode.ACCOUNT_UNREACHABLE)
        return decision.model_copy(
            update={
                "outcome": Outcome.FAILED,
                "error": error.message,
                "reasons": reasons,
                "updated_at": self.clock(),
            }
        )

    def _apply(self, actuator: Actuator, decision: Decision, stored: StoredTarget) -> Decision:
        try:
            actuation = actuator.apply(stored.target, decision.final, decision.id)
        except ActuationError as exc:
            confirmed = reads_final(actuator, stored, decision)
            if confirmed is None:
                return self.failed(decision, exc, stored.target)
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
        return self.started(decision, actuation, stored.target.kind)

    def record_outcome(self, final: Decision, stored: StoredTarget, unapplied: TargetState | None) -> None:
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

    def close(self, decision: Decision, outcome: Outcome, reason: ReasonCode | None = None, **details: Any) -> Decision:
        """Close a pending decision (no-op, returning what is stored, if another writer closed it first)."""
        closed = decision_records.closed(decision, outcome, self.clock(), reason=reason, **details)
        if not self.log.finalize_if_pending(closed):
            return self.log.get(decision.id, consistent=True) or decision
        logger().info("decision closed", extra={"decision_id": decision.id, "outcome": outcome})
        return closed

    def _replace_state(self, stored: StoredTarget, state: TargetState) -> None:
        try:
            self.registry.replace_state(stored, state)
        except VersionConflictError:
            logger().warning(
                "state changed before a failed actuation was uncounted", extra={"decision_id": state.last_decision_id}
            )


def reads_final(actuator: Actuator, stored: StoredTarget, decision: Decision) -> int | None:
    """After a failed synchronous change: the capacity if it reads the decision's final, else None."""
    try:
        current = actuator.read(stored.target).current
    except ActuationError:
        return None
    return current if current == decision.final else None
