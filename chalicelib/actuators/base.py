"""The actuator contract: read a target's capacity, apply a new one. One implementation per kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.targets import TargetBase


class Actuation(BaseModel):
    """What an actuator did. ``pending``: the change was started and completes later (kops runner)."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    note: str
    pending: bool = False
    reference: str | None = None  # e.g. the runner task's ARN


class Actuator(Protocol):
    """A kind whose capacity changes when the call returns (ASG, ECS)."""

    def read(self, target: TargetBase) -> CapacityReading:
        """Current capacity and the resource's own bounds; raises ActuationError if unreadable."""
        ...

    def apply(self, target: TargetBase, capacity: int, decision_id: str) -> Actuation:
        """Set the capacity; raises ActuationError if the cloud refuses."""
        ...


@runtime_checkable
class RunnerActuator(Protocol):
    """A kind changed by a runner task that reports when it stops (kops): one runner at a time (the lease)."""

    def read(self, target: TargetBase) -> CapacityReading:
        """Current capacity; raises ActuationError if unreadable."""
        ...

    def runner_request(self, target: TargetBase, capacity: int, deadline: datetime) -> dict[str, str | int]:
        """What the runner must do, written on the decision before ``start``: the runner reads it there."""
        ...

    def start(self, target: TargetBase, capacity: int, decision_id: str, deadline: datetime) -> Actuation:
        """Start a runner for the decision (whose request gives its capacity and its ``deadline``);
        ActuationError if none started."""
        ...

    def stop(self, target: TargetBase, reference: str, reason: str) -> None:
        """Stop the runner task ``reference`` (its ARN) if it still runs; ActuationError if that fails."""
        ...


@runtime_checkable
class ReadsMany(Protocol):
    """An actuator that reads many targets of its kind in as few calls as AWS allows (actuators/described.py)."""

    def read_many(self, targets: Sequence[TargetBase]) -> dict[str, CapacityReading | ActuationError]:
        """Each target's reading by target id, or the ActuationError its own ``read`` would have raised."""
        ...


def read_one(reader: ReadsMany, target: TargetBase) -> CapacityReading:
    """One target's reading through its actuator's ``read_many``: what ``read`` is for a kind that reads many."""
    reading = reader.read_many([target])[target.id]
    if isinstance(reading, ActuationError):
        raise reading
    return reading


AnyActuator = Actuator | RunnerActuator
