"""What an actuator read off a resource: its capacity, the units serving, its own bounds (pure value)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.models.signals import ResourceBounds


class CapacityReading(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    current: int = Field(ge=0)
    serving: int | None = Field(default=None, ge=0)  # in service / running now; None = not told
    bounds: ResourceBounds = ResourceBounds()
    # Why the resource suspends scale-in now (an ECS deployment in progress); None when it does not.
    scale_in_suspended: str | None = None
    # What else the resource told us (running count, in-service instances...), recorded as inputs.
    details: dict[str, Any] = Field(default_factory=dict)
