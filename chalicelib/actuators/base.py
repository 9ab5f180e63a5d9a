"""The actuator contract: read a target's capacity, apply a new one. One implementation per kind."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.models.signals import ResourceBounds
from chalicelib.models.targets import TargetBase


class CapacityReading(BaseModel):
    model_config = ConfigDict(frozen=True)

    current: int = Field(ge=0)
    serving: int | None = Field(default=None, ge=0)  # in service / running now; None = not told
    bounds: ResourceBounds = ResourceBounds()
    # What else the resource told us (running count, in-service instances...), recorded as inputs.
    details: dict[str, Any] = Field(default_factory=dict)


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
