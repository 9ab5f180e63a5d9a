"""Recovering a synchronous actuation whose outcome was never recorded (the Unsettled marker).

The commit that decides to act marks the target; whoever calls the cloud first claims the mark;
the outcome write removes it. An evaluation that finds the mark closes or carries out the decision:
- the capacity reads the decision's final: applied (its call went through, its record did not);
- the mark was never claimed: the decision never acted (its answer was lost, or its Lambda died
  between commit and act), so this evaluation claims it and acts on it now, exactly once;
- claimed, not confirmed, ``pending_timeout`` passed: failed (its Lambda cannot be acting any more);
- otherwise it may still be in flight, and nothing may act over it.
An evaluation that carried out the marked decision but could not write its outcome does not act
either: its commit would replace the mark, and nothing would ever settle that decision.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib import decision_records
from chalicelib.actuation import Actuations
from chalicelib.actuators.base import Actuator
from chalicelib.engine.history import forget_change
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.decisions import Decision, Outcome
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.state import StoredTarget
from chalicelib.resource_limits import DEFAULT_LIMITS, ResourceLimits
from chalicelib.still_allowed import reason_not_to_act
from chalicelib.store.protocols import DecisionStore, TargetStore

# How long an unsettled actuation may still be in flight: at least the Lambda timeout (.chalice/config.json).
DEFAULT_PENDING_TIMEOUT = timedelta(seconds=300)


@dataclass(frozen=True)
class Settlement:
    clear_mark: bool = False  # the marked decision is closed: this evaluation's commit removes the mark
    busy_with: str | None = None  # a decision that may still be acting: this evaluation must not act
    resumed: Decision | None = None  # the marked decision, carried out now by this evaluation

    def after_resuming(self, now: StoredTarget) -> Settlement:
        """``now``: the target re-read after carrying out ``resumed``. If it still carries that decision's
        mark, its outcome was not written: this evaluation must not act, or its new mark would strand it."""
        marker = now.unsettled
        if self.resumed is not None and marker is not None and marker.decision_id == self.resumed.id:
            return replace(self, busy_with=self.resumed.id)
        return self


@dataclass
class UnsettledRecovery:
    registry: TargetStore
    log: DecisionStore
    actuations: Actuations
    clock: Callable[[], datetime]
    pending_timeout: timedelta = DEFAULT_PENDING_TIMEOUT
    limits: ResourceLimits = DEFAULT_LIMITS

    def settle(self, stored: StoredTarget, actuator: Actuator, reading: CapacityReading, by: str) -> Settlement:
        """Close or carry out the decision an earlier evaluation left unsettled; ``by``: this evaluation's id."""
        marker = stored.unsettled
        if marker is None:
            return Settlement()
        previous = self.log.get(marker.decision_id, consistent=True)
        if previous is None or previous.outcome is not Outcome.PENDING:
            return Settlement(clear_mark=True)
        if reading.current == previous.final:
            note = f"confirmed by a later evaluation ({by}): the capacity reads {reading.current}"
            self.actuations.close(previous, Outcome.APPLIED, note=note)
            return Settlement(clear_mark=True)
        if not marker.claimed and self.registry.claim_actuation(stored, marker.decision_id, by=by):
            note = f"carried out by a later evaluation ({by}): its own never acted"
            return Settlement(resumed=self.resume(stored, actuator, previous, note))
        age = self.clock() - marker.since
        if age >= self.pending_timeout:
            error = (
                f"actuation not confirmed: the capacity reads {reading.current}, not {previous.final}, "
                f"{int(age.total_seconds())} s after the decision, and its outcome was never recorded"
            )
            self.actuations.close(previous, Outcome.FAILED, ReasonCode.ACTUATION_UNCONFIRMED, error=error)
            return Settlement(clear_mark=True)
        return Settlement(busy_with=previous.id)

    def resume(self, stored: StoredTarget, actuator: Actuator, decision: Decision, note: str) -> Decision:
        """Act on a committed decision that never acted (its mark is claimed by the caller); ``note``: by whom.

        It is checked against the target as it is now, as a queued kops decision is: one the target no
        longer allows (paused, advise, outside [min, max]) is skipped as SUPERSEDED instead.
        """
        uncounted = stored.state.model_copy(
            update={"history": forget_change(stored.state.history, decision.final, decision.policy)}
        )
        why = reason_not_to_act(stored.target, decision.final, self.limits)
        if why is not None:
            because = f"Superseded before it acted: {why}."
            closed = decision_records.closed(
                decision, Outcome.SKIPPED, self.clock(), reason=ReasonCode.SUPERSEDED, because=because
            )
            self.actuations.record_outcome(closed, stored, uncounted)
            return closed
        resumed = decision.model_copy(update={"inputs": {**decision.inputs, "resumed": note}})
        return self.actuations.act(actuator, resumed, stored, uncounted)
