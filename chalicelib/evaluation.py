"""One evaluation of one target: what it was started by, when it read its inputs, what it read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.actuators.base import AnyActuator
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.decisions import Trigger
from chalicelib.models.state import StoredTarget
from chalicelib.models.targets import Target


@dataclass(frozen=True)
class Evaluation:
    stored: StoredTarget
    trigger: Trigger
    decision_id: str
    # An event's evaluation of this target is recorded once under this key (ids.dedup_key); None when manual.
    dedup: str | None
    # When the evaluation read its inputs: the engine's ``now``, the decision's ``created_at`` and its id's time.
    at: datetime
    actuator: AnyActuator
    reading: CapacityReading

    @property
    def target(self) -> Target:
        return self.stored.target


def evaluation_instant(trigger_at: datetime, wall_clock: datetime) -> datetime:
    """When an evaluation reads its inputs, at the decision log's precision (milliseconds, UTC).

    The wall clock, except that it never falls behind the trigger's own time: an event stamped a
    little ahead of this host's clock (or a test placing a trigger in the future) is evaluated at the
    trigger's time, so that cooldowns and lease ages never run backwards.
    """
    at = max(trigger_at, wall_clock).astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)
