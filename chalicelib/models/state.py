"""What Marea keeps about a target between evaluations: its state, the lease, the unsettled marker.

Pure values shared by the evaluator, the lease planner and the stores; no I/O.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from chalicelib.models.signals import TargetHistory
from chalicelib.models.targets import Target


class RunnerRun(BaseModel):
    """A decision handed to an asynchronous actuator (the kops runner): running, or queued."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    decision_id: str
    capacity: int
    since: AwareDatetime


class TargetState(BaseModel):
    """What Marea remembers about a target between evaluations."""

    model_config = ConfigDict(extra="ignore")

    history: TargetHistory = TargetHistory()
    last_decision_id: str | None = None
    # The lease: at most one runner per target at a time, and at most one decision waiting for it.
    in_flight: RunnerRun | None = None
    queued: RunnerRun | None = None


class Unsettled(BaseModel):
    """A synchronous actuation committed but whose outcome is not recorded yet (top-level item attributes).

    Set by the commit that decides to act, removed by the write that records the outcome. If that
    write fails, the next evaluation finds the marker and closes the decision.
    """

    model_config = ConfigDict(frozen=True)

    decision_id: str
    since: AwareDatetime  # wall clock of the commit, not the event's time


class StoredTarget(BaseModel):
    """A target as stored: definition, state and the optimistic-concurrency version."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    target: Target
    state: TargetState
    version: int
    unsettled: Unsettled | None = None
