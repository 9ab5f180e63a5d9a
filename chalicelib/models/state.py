"""What Marea keeps about a target between evaluations: its state, the lease, the unsettled marker.

Pure values shared by the evaluator, the lease planner and the stores; no I/O.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from chalicelib.models.signals import TargetHistory
from chalicelib.models.targets import Target


class RunnerRun(BaseModel):
    """A decision handed to an asynchronous actuator (the kops runner): running, or queued."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")

    decision_id: str
    capacity: int
    # The lease's start: when RunTask returned for a running one (when it was queued, for a queued one).
    since: AwareDatetime
    task_arn: str | None = None  # the runner's task, once RunTask answered: what StopTask stops


class TargetState(BaseModel):
    """What Marea remembers about a target between evaluations."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    history: TargetHistory = TargetHistory()
    last_decision_id: str | None = None
    # The lease: at most one runner per target at a time, and at most one decision waiting for it.
    in_flight: RunnerRun | None = None
    queued: RunnerRun | None = None


class Unsettled(BaseModel):
    """A synchronous actuation committed but whose outcome is not recorded yet (top-level item attributes).

    Set by the commit that decides to act, *claimed* (one conditional write) by whoever calls the
    cloud for it, removed by the write that records the outcome. So the marker says whether the
    decision may have acted: an unclaimed one never did, and the next evaluation that finds it claims
    it and acts on it; a claimed one is confirmed from the capacity it reads, or failed once
    ``pending_timeout`` has passed (docs/aws-semantics.md, "Exactly once").
    """

    model_config = ConfigDict(defer_build=True, frozen=True)

    decision_id: str
    since: AwareDatetime  # wall clock of the commit, not the event's time
    # Who claimed it: the id of the evaluation that calls the cloud (a retried claim of its own succeeds).
    claimed_by: str | None = None
    dedup: str | None = None  # the event's dedup key: its redelivery knows the mark for its own

    @property
    def claimed(self) -> bool:
        return self.claimed_by is not None


class StoredTarget(BaseModel):
    """A target as stored: definition, state and the optimistic-concurrency version."""

    model_config = ConfigDict(defer_build=True, frozen=True, arbitrary_types_allowed=True)

    target: Target
    state: TargetState
    version: int
    unsettled: Unsettled | None = None
