"""The actuator contract: read a target's capacity, apply a new one. One implementation per kind."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from chalicelib.models.capacity import CapacityReading
from chalicelib.models.targets import TargetBase


class Actuation(BaseModel):
    """What an actuator did. ``pending``: the change was started and completes later (kops runner)."""

    model_config = ConfigDict(frozen=True)

    note: str
    pending: bool = False
    reference: str | None = None  # e.g. the runner task's ARN


class Actuator(Protocol):
    # True when apply() only starts the change (its completion arrives as a later event).
    asynchronous: bool

    def read(self, target: TargetBase) -> CapacityReading:
        """Current capacity and the resource's own bounds; raises ActuationError if unreadable."""
        ...

    def apply(self, target: TargetBase, capacity: int, decision_id: str) -> Actuation:
        """Set (or start setting) the capacity; raises ActuationError if the cloud refuses."""
        ...
