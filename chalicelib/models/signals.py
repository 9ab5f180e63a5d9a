"""What the engine sees: observations gathered before a decision (pure values, no I/O)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class Datapoint(Frozen):
    timestamp: AwareDatetime
    value: float


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class ComparisonOperator(StrEnum):
    """A CloudWatch alarm's static-threshold operators (anomaly-detection bands have no side)."""

    GREATER_THAN_OR_EQUAL = "GreaterThanOrEqualToThreshold"
    GREATER_THAN = "GreaterThanThreshold"
    LESS_THAN = "LessThanThreshold"
    LESS_THAN_OR_EQUAL = "LessThanOrEqualToThreshold"

    @property
    def breaches_above(self) -> bool:
        """Whether the alarm breaches above its threshold (then step bounds read [lower, upper))."""
        return self in (ComparisonOperator.GREATER_THAN_OR_EQUAL, ComparisonOperator.GREATER_THAN)

    @property
    def phrase(self) -> str:
        """As CloudWatch words it in a state reason: "... was greater than or equal to the threshold (70.0)"."""
        return _PHRASES[self]

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    def breaches(self, value: float, threshold: float) -> bool:
        if self is ComparisonOperator.GREATER_THAN_OR_EQUAL:
            return value >= threshold
        if self is ComparisonOperator.GREATER_THAN:
            return value > threshold
        if self is ComparisonOperator.LESS_THAN:
            return value < threshold
        return value <= threshold


_PHRASES = {
    ComparisonOperator.GREATER_THAN_OR_EQUAL: "greater than or equal to",
    ComparisonOperator.GREATER_THAN: "greater than",
    ComparisonOperator.LESS_THAN: "less than",
    ComparisonOperator.LESS_THAN_OR_EQUAL: "less than or equal to",
}
_SYMBOLS = {
    ComparisonOperator.GREATER_THAN_OR_EQUAL: ">=",
    ComparisonOperator.GREATER_THAN: ">",
    ComparisonOperator.LESS_THAN: "<",
    ComparisonOperator.LESS_THAN_OR_EQUAL: "<=",
}


class AlarmObservation(Frozen):
    """An alarm's state and the metric value that put it there (from the event or DescribeAlarms)."""

    name: str
    state: AlarmState
    threshold: float | None = None
    value: float | None = None  # latest evaluated datapoint, when known
    timestamp: AwareDatetime | None = None
    # Which side of the threshold breaches; None when not known (an event whose reason names no operator).
    comparison: ComparisonOperator | None = None


class ResourceBounds(Frozen):
    """Bounds the resource itself enforces (an ASG's MinSize/MaxSize); None where there are none."""

    min: int | None = None
    max: int | None = None


class Signal(Frozen):
    """Everything observed for one evaluation of one target."""

    current_capacity: int = Field(ge=0)
    # Units serving now (ASG instances in service, ECS tasks running): the units a utilization metric
    # is measured over. None when the resource does not say; current_capacity stands in for it.
    serving_capacity: int | None = Field(default=None, ge=0)
    # Datapoints per target-tracking policy name, oldest first, one per period.
    metrics: dict[str, list[Datapoint]] = Field(default_factory=dict)
    alarms: dict[str, AlarmObservation] = Field(default_factory=dict)
    resource_bounds: ResourceBounds = ResourceBounds()
    # Why the resource itself suspends scale-in now (an ECS deployment in progress), None when it does not.
    scale_in_suspended: str | None = None
    # Days of load datapoints per predictive policy name, oldest first (seasonal forecasts).
    # Left out of dumps: a decision records the forecast it made, not 20,000 datapoints.
    history: dict[str, list[Datapoint]] = Field(default_factory=dict, exclude=True)


class CapacityChange(Frozen):
    at: AwareDatetime
    capacity: int
    # Scale-outs: the capacity they were sized from, kept across larger scale-outs let through during a
    # cooldown (what "the capacity the previous scale-out added" is counted from). None in histories
    # stored before it was recorded.
    before: int | None = None


class Recommendation(Frozen):
    at: AwareDatetime
    capacity: int


class ServingCount(Frozen):
    """The units serving, as seen from the evaluation at ``since`` until the next entry's."""

    since: AwareDatetime  # the first evaluation that saw this count
    count: int = Field(ge=0)


class TargetHistory(Frozen):
    """The memory the engine needs: last scaling actions and recent recommendations."""

    last_scale_out: CapacityChange | None = None
    last_scale_in: CapacityChange | None = None
    # Per-policy time of the last action it caused (step-scaling cooldowns are per policy).
    last_action_by_policy: dict[str, AwareDatetime] = Field(default_factory=dict)
    recommendations: list[Recommendation] = Field(default_factory=list)
    # The units serving as evaluations saw them, one entry per change, oldest first: what a datapoint
    # was averaged over (engine/serving.py). Empty in histories stored before it was kept.
    serving_counts: list[ServingCount] = Field(default_factory=list)
