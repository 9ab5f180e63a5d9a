"""Decision events: each recorded applied, failed or recommended decision, put on EventBridge.

Users route them as they route AWS's own "EC2 Instance Launch Successful" events: a rule on the
bus (source ``marea``, detail-type ``Marea Decision``) to SNS, chat tools or paging. The event is
put after the write that recorded the outcome succeeded, from the same process, once per write that
recorded something: a duplicate or redelivered event records nothing, so it puts nothing. A failed
put is logged and counted (``DecisionEventsFailed``) and never changes the decision: the decision
log is the record, the event a notification of it (docs/decision-events.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.models.api import decision_response
from chalicelib.models.decisions import Action, Decision, Outcome, to_milliseconds
from chalicelib.models.state import StoredTarget, TargetState, Unsettled
from chalicelib.observability import count, logger
from chalicelib.store.decisions import DecisionLog
from chalicelib.store.targets import DuplicateDecisionError, TargetRegistry

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "marea"
DETAIL_TYPE = "Marea Decision"
# What a reader is told about: a change made, a change that failed, a change recommended (advise
# mode). Skipped and pending decisions are steps on the way, read in the decision log.
PUBLISHED_OUTCOMES = frozenset({Outcome.APPLIED, Outcome.FAILED, Outcome.RECOMMENDED})


def announced(decision: Decision) -> bool:
    """Put on the bus: applied and failed decisions, and recommendations of a change. An advise target
    records a recommendation at every evaluation; one that keeps the capacity is a tick, not news."""
    if decision.outcome is Outcome.RECOMMENDED:
        return decision.action is not Action.NONE
    return decision.outcome in PUBLISHED_OUTCOMES


def decision_entry(decision: Decision, bus: str) -> dict[str, Any]:
    """The PutEvents entry of a decision: its public fields, as GET /decisions/{id} returns them."""
    return {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(decision_response(decision), separators=(",", ":")),
        "EventBusName": bus,
        "Time": decision.updated_at or decision.created_at,
    }


@dataclass
class DecisionEvents:
    """Puts decision events on one bus; never raises (the decision is recorded whatever happens here)."""

    client: Callable[[], EventBridgeClient]
    bus: str

    def recorded(self, decision: Decision) -> None:
        if not announced(decision):
            return
        try:
            response = self.client().put_events(Entries=[decision_entry(decision, self.bus)])  # type: ignore[list-item]
        except (ClientError, BotoCoreError) as exc:
            self._failed(decision, str(exc))
            return
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            self._failed(decision, f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
            return
        count("DecisionEvents")

    def _failed(self, decision: Decision, error: str) -> None:
        count("DecisionEventsFailed")
        logger().warning(
            "decision event not put: the decision is recorded, only its notification is lost",
            extra={"decision_id": decision.id, "outcome": decision.outcome, "bus": self.bus, "error": error},
        )


def _if_recorded_anyway(
    events: DecisionEvents,
    log: DecisionLog,
    decision: Decision,
    same: Callable[[Decision, Decision], bool] | None = None,
) -> None:
    """A write whose answer was lost may have gone through: botocore's retry then fails the write's own
    condition (False, or DuplicateDecisionError) or every attempt raises. Put the event if the stored decision
    is the one this write carried (``same``; by default the same id, outcome and updated_at: another writer's
    close has its own time)."""
    if not announced(decision):
        return
    try:
        found = log.get(decision.id, consistent=True)
    except (ClientError, BotoCoreError) as exc:
        logger().warning(
            "write answer lost and its decision unreadable: no event",
            extra={"decision_id": decision.id, "error": str(exc)},
        )
        return
    if found is not None and (same or _same_write)(found, decision):
        events.recorded(found)


def _announcing(events: DecisionEvents, log: DecisionLog, decision: Decision, write: Callable[[], bool]) -> bool:
    """Run a conditional write of ``decision``'s outcome; put the event if it recorded it, or if its answer
    was lost (raised, or False from its own retried condition) and the stored decision is this write's."""
    try:
        recorded = write()
    except (ClientError, BotoCoreError):
        _if_recorded_anyway(events, log, decision)
        raise
    if recorded:
        events.recorded(decision)
    else:
        _if_recorded_anyway(events, log, decision)
    return recorded


def _same_write(stored: Decision, written: Decision) -> bool:
    """The stored decision is the one ``written`` carried: its outcome, at its time (the log keeps milliseconds;
    a decision changed with model_copy still holds microseconds)."""
    if stored.outcome is not written.outcome or stored.updated_at is None or written.updated_at is None:
        return False
    return to_milliseconds(stored.updated_at) == to_milliseconds(written.updated_at)


class PublishingDecisionLog(DecisionLog):
    """The DynamoDB decision log, putting an event after each write that recorded a new outcome."""

    def __init__(self, log: DecisionLog, events: DecisionEvents) -> None:
        super().__init__(log._client, log._table)
        self._events = events

    def put_new(self, decision: Decision, expires_at: int, dedup: str | None = None) -> bool:
        return _announcing(
            self._events,
            self,
            decision,
            lambda: super(PublishingDecisionLog, self).put_new(decision, expires_at, dedup),
        )

    def finalize(self, decision: Decision) -> None:
        super().finalize(decision)
        self._events.recorded(decision)

    def finalize_if_pending(self, decision: Decision) -> bool:
        return _announcing(
            self._events, self, decision, lambda: super(PublishingDecisionLog, self).finalize_if_pending(decision)
        )


class PublishingTargetRegistry(TargetRegistry):
    """The DynamoDB target registry, putting an event after each evaluation or settlement it recorded."""

    def __init__(self, registry: TargetRegistry, events: DecisionEvents) -> None:
        super().__init__(registry._client, registry._table, registry._decisions_table)
        self._events = events

    def commit_evaluation(
        self,
        stored: StoredTarget,
        state: TargetState,
        decision: Decision,
        expires_at: int,
        *,
        mark: Unsettled | None = None,
        clear_mark: bool = False,
        dedup: str | None = None,
    ) -> StoredTarget:
        try:
            committed = super().commit_evaluation(
                stored, state, decision, expires_at, mark=mark, clear_mark=clear_mark, dedup=dedup
            )
        except (ClientError, BotoCoreError, DuplicateDecisionError):
            # The caller goes on with a commit that went through (service.py ``_carry_out_own``), and nothing
            # records a recommendation again: put it if its decision is there (a duplicate of another
            # evaluation has another id).
            log = DecisionLog(self._client, self._decisions_table)
            _if_recorded_anyway(self._events, log, decision, same=lambda found, _: True)
            raise
        self._events.recorded(decision)
        return committed

    def settle_actuation(self, committed: StoredTarget, decision: Decision, state: TargetState | None) -> bool:
        log = DecisionLog(self._client, self._decisions_table)
        return _announcing(
            self._events,
            log,
            decision,
            lambda: super(PublishingTargetRegistry, self).settle_actuation(committed, decision, state),
        )
