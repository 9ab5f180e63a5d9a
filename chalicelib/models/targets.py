"""Domain model of a scalable target and its policies (pure pydantic, no I/O).

A target is one scalable thing (an ASG, an ECS service; kops comes later as another member of
the ``Target`` union). Its policies only *propose*; the engine's normaliser enforces bounds.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from chalicelib import kops_names
from chalicelib.constants import TARGET_ID_PATTERN
from chalicelib.metric_retention import describe_age, oldest_readable
from chalicelib.models.location import (
    ACCOUNT_ID_PATTERN,
    EXTERNAL_ID_LENGTH,
    EXTERNAL_ID_PATTERN,
    REGION_PATTERN,
    ROLE_ARN_PATTERN,
    Location,
)

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,254}$"
# AWS hard limit for an ASG / ECS service is far below this; it only guards against typos.
MAX_CAPACITY_LIMIT = 100_000
_CRON_PROBE_TIME = datetime(2000, 1, 1)  # any start time: only the expression's syntax is checked

# Defaults that AWS target tracking uses but does not let users change (docs/aws-semantics.md,
# "Alarm windows and how far back Marea reads").
AWS_SCALE_OUT_DATAPOINTS = 3  # scale-out alarm: 3 of 3 one-minute datapoints above target
AWS_SCALE_IN_DATAPOINTS = 15  # scale-in alarm: 15 of 15 one-minute datapoints below (1 - 0.1) x target
AWS_SCALE_IN_WINDOW_S = AWS_SCALE_IN_DATAPOINTS * 60  # the same window in time: 15 minutes
AWS_SCALE_IN_MARGIN = 0.10
AWS_COOLDOWN_S = 300
# Periods below a minute that CloudWatch alarms take (PutMetricAlarm), on metrics put with StorageResolution 1.
HIGH_RESOLUTION_PERIODS_S = (10, 20, 30)
# AWS predefined target-tracking metrics (ASGAverageCPUUtilization, ECSService*, ALB) are 1-minute.
PREDEFINED_METRIC_PERIOD_S = 60
# A series whose newest point is older than this many periods has stopped reporting; treating
# the silence as low load is the classic missing-metrics bug (kedacore/keda#886, #1850).
STALE_AFTER_PERIODS = 3
# A policy is read back at least this many periods, so that a metric that stopped reporting within
# them is reported as STALE_DATA with its last datapoint, not as missing altogether.
MIN_LOOKBACK_PERIODS = 20
# The longest window, in datapoints: a day of 1-minute data. 20 policies of this many datapoints
# (and the slack of the read) stay within one GetMetricData answer of 100,800 datapoints.
MAX_WINDOW_DATAPOINTS = 1440


def _iana_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


# A time-zone name that zoneinfo knows (DST rules included).
IanaZone = Annotated[str, AfterValidator(_iana_zone)]


class Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class Mode(StrEnum):
    ADVISE = "advise"
    ACT = "act"


class Statistic(StrEnum):
    AVERAGE = "Average"
    SUM = "Sum"
    MAXIMUM = "Maximum"
    MINIMUM = "Minimum"
    SAMPLE_COUNT = "SampleCount"


class CustomMetric(Frozen):
    """Any CloudWatch metric, read with GetMetricData."""

    type: Literal["custom"] = "custom"
    namespace: str = Field(min_length=1, max_length=255)
    metric_name: str = Field(min_length=1, max_length=255)
    dimensions: dict[str, str] = Field(default_factory=dict, max_length=30)
    statistic: Statistic = Statistic.AVERAGE
    period_s: int = Field(default=60, ge=10, le=3600)

    @field_validator("period_s")
    @classmethod
    def _cloudwatch_period(cls, value: int) -> int:
        if value not in HIGH_RESOLUTION_PERIODS_S and value % 60:
            raise ValueError("period_s must be 10, 20, 30 or a multiple of 60 (CloudWatch's alarm periods)")
        return value


class PredefinedMetricType(StrEnum):
    ASG_AVERAGE_CPU = "ASGAverageCPUUtilization"
    ALB_REQUEST_COUNT_PER_TARGET = "ALBRequestCountPerTarget"
    ECS_SERVICE_AVERAGE_CPU = "ECSServiceAverageCPUUtilization"
    ECS_SERVICE_AVERAGE_MEMORY = "ECSServiceAverageMemoryUtilization"


class PredefinedMetric(Frozen):
    """A metric named the way AWS target tracking names it; resolved against the target."""

    type: Literal["predefined"] = "predefined"
    predefined: PredefinedMetricType
    # ALB request count per target needs "app/<lb>/<id>/targetgroup/<tg>/<id>" (AWS resource label).
    resource_label: str | None = Field(default=None, max_length=1023)

    @model_validator(mode="after")
    def _label_for_alb(self) -> PredefinedMetric:
        if self.predefined is PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET and not self.resource_label:
            raise ValueError("resource_label is required for ALBRequestCountPerTarget")
        return self

    @property
    def period_s(self) -> int:
        return PREDEFINED_METRIC_PERIOD_S


MetricSpec = Annotated[CustomMetric | PredefinedMetric, Field(discriminator="type")]


def _absent(value: object) -> bool:
    return value is None


def default_scale_in_datapoints(period_s: int) -> int:
    """AWS's 15-minute scale-in window in datapoints of ``period_s`` (90 of 10 s), and never fewer than its
    15 datapoints (15 of 5 minutes stay 15). Counted in datapoints, a 10 s metric's window was 150 s, and the
    policy changed capacity 6x as often as on a 1-minute metric (docs/aws-semantics.md, "Alarm windows")."""
    return max(AWS_SCALE_IN_DATAPOINTS, AWS_SCALE_IN_WINDOW_S // period_s)


class TargetTrackingPolicy(Frozen):
    """Keep a metric near a target value; the windows AWS hides are visible here."""

    type: Literal["target_tracking"] = "target_tracking"
    name: str = Field(pattern=NAME_PATTERN)
    metric: MetricSpec
    target_value: float = Field(gt=0)
    scale_out_cooldown_s: int = Field(default=120, ge=0, le=86_400)
    scale_in_cooldown_s: int = Field(default=AWS_COOLDOWN_S, ge=0, le=86_400)
    # Scale in only when every datapoint of the scale-in window is below (1 - margin) x target.
    scale_in_margin: float = Field(default=AWS_SCALE_IN_MARGIN, ge=0, lt=1)
    scale_out_datapoints: int = Field(default=AWS_SCALE_OUT_DATAPOINTS, ge=1, le=MAX_WINDOW_DATAPOINTS)
    # None: AWS's 15 minutes in the metric's datapoints (scale_in_window), not stored, so it follows the period.
    scale_in_datapoints: int | None = Field(
        default=None,
        ge=1,
        le=MAX_WINDOW_DATAPOINTS,
        exclude_if=_absent,
        description="datapoints of the scale-in window; default 15 minutes of them (15 at 60 s, 90 at 10 s)",
    )
    disable_scale_in: bool = False
    # Evaluated on the schedule's ticks (once a minute); an alarm named here evaluates the target at once when its
    # state changes, as AWS's own target-tracking alarm does (e.g. the metric above target_value for
    # scale_out_datapoints periods): with a 10 s metric, the policy answers in seconds, not at the next tick.
    trigger_alarm: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        exclude_if=_absent,
        description="a CloudWatch alarm whose state changes evaluate the target at once (optional)",
    )

    @field_validator("scale_out_datapoints", "scale_in_datapoints")
    @classmethod
    def _window_readable(cls, value: int | None, info: ValidationInfo) -> int | None:
        """A window reaching back further than CloudWatch keeps the metric's period could never fill."""
        metric = info.data.get("metric")
        if metric is None or value is None:  # the metric's own error says so; a default window always fits
            return value
        period_s = metric.period_s
        kept = oldest_readable(period_s)
        # The read adds the stale allowance and one period for aligning its start (lookback, below).
        most = int(kept.total_seconds()) // period_s - STALE_AFTER_PERIODS - 1
        if value > most:
            raise ValueError(
                f"{value} datapoints of {period_s} s reach further back than CloudWatch keeps datapoints of"
                f" {period_s} s for {describe_age(kept)} (GetMetricData); at most {most} with this period"
            )
        return value

    @property
    def period_s(self) -> int:
        return self.metric.period_s

    @property
    def scale_in_window(self) -> int:
        """Datapoints of the scale-in window: the given ones, else AWS's 15 minutes of them."""
        if self.scale_in_datapoints is not None:
            return self.scale_in_datapoints
        return default_scale_in_datapoints(self.period_s)

    @property
    def lookback(self) -> timedelta:
        """How far back the policy is read: its longest window, plus the periods by which the newest
        datapoint may lag before it counts as stale (so a late metric still fills the window), and
        never fewer than MIN_LOOKBACK_PERIODS."""
        window = max(self.scale_out_datapoints, self.scale_in_window) + STALE_AFTER_PERIODS
        return timedelta(seconds=max(window, MIN_LOOKBACK_PERIODS) * self.period_s)


class AdjustmentType(StrEnum):
    CHANGE_IN_CAPACITY = "change_in_capacity"
    EXACT_CAPACITY = "exact_capacity"
    PERCENT_CHANGE_IN_CAPACITY = "percent_change_in_capacity"


class StepAdjustment(Frozen):
    """A step; bounds are relative to the alarm threshold, lower inclusive, upper exclusive."""

    lower_bound: float | None = None
    upper_bound: float | None = None
    adjustment: int = Field(ge=-MAX_CAPACITY_LIMIT, le=MAX_CAPACITY_LIMIT)

    @model_validator(mode="after")
    def _ordered(self) -> StepAdjustment:
        if self.lower_bound is not None and self.upper_bound is not None and self.lower_bound >= self.upper_bound:
            raise ValueError("lower_bound must be below upper_bound")
        return self


class StepScalingPolicy(Frozen):
    """Tied to a named CloudWatch alarm; acts while the alarm is in ALARM."""

    type: Literal["step"] = "step"
    name: str = Field(pattern=NAME_PATTERN)
    alarm_name: str = Field(min_length=1, max_length=255)
    adjustment_type: AdjustmentType
    steps: list[StepAdjustment] = Field(min_length=1, max_length=20)
    min_adjustment_magnitude: int | None = Field(default=None, ge=1, le=MAX_CAPACITY_LIMIT)
    cooldown_s: int = Field(default=AWS_COOLDOWN_S, ge=0, le=86_400)

    @model_validator(mode="after")
    def _steps_tile_without_gaps(self) -> StepScalingPolicy:
        # AWS: step ranges may not overlap nor leave gaps; at most one open end each side.
        ordered = sorted(self.steps, key=lambda s: -float("inf") if s.lower_bound is None else s.lower_bound)
        for before, after in pairwise(ordered):
            if before.upper_bound is None or after.lower_bound is None or before.upper_bound != after.lower_bound:
                raise ValueError("steps must not overlap or leave gaps (upper_bound of one = lower_bound of next)")
        if (
            self.min_adjustment_magnitude is not None
            and self.adjustment_type is not AdjustmentType.PERCENT_CHANGE_IN_CAPACITY
        ):
            raise ValueError("min_adjustment_magnitude only applies to percent_change_in_capacity")
        return self


class ScheduledAction(Frozen):
    """A floor and/or ceiling that starts at each cron firing (AWS scheduled-action semantics).

    Without ``duration_minutes`` it stays in force until another action of the same policy fires
    (AWS never reverts); with it, it ends after that many minutes.
    """

    name: str = Field(pattern=NAME_PATTERN)
    cron: str = Field(min_length=9, max_length=200, description="5-field cron, e.g. '0 8 * * MON-FRI'")
    timezone: IanaZone = "UTC"
    min_capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY_LIMIT)
    max_capacity: int | None = Field(default=None, ge=0, le=MAX_CAPACITY_LIMIT)
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 31)
    exclude_dates: list[date] = Field(default_factory=list, max_length=366)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("cron must have 5 fields: minute hour day-of-month month day-of-week")
        try:
            CronSim(value, _CRON_PROBE_TIME)
        except CronSimError as exc:
            raise ValueError(f"invalid cron expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _floor_or_ceiling(self) -> ScheduledAction:
        if self.min_capacity is None and self.max_capacity is None:
            raise ValueError("a scheduled action sets min_capacity, max_capacity or both")
        if self.min_capacity is not None and self.max_capacity is not None and self.min_capacity > self.max_capacity:
            raise ValueError("min_capacity must not exceed max_capacity")
        return self


class ScheduledPolicy(Frozen):
    type: Literal["scheduled"] = "scheduled"
    name: str = Field(pattern=NAME_PATTERN)
    actions: list[ScheduledAction] = Field(min_length=1, max_length=50)


class PredictivePolicy(Frozen):
    """Size capacity for the load expected before new units can serve (engine/predictive.py).

    Reads one load metric: the target's *total* load per period (e.g. the ALB's RequestCount,
    Sum), from up to ``history_days`` of history, and proposes the largest of: the recent mean
    load at ``target_utilization``, the busiest period of the last ``peak_window_s`` at 100 %,
    and both grown by the rise that the same time of previous days and weeks showed over the
    next ``lead_s`` (the provisioning delay).
    """

    type: Literal["predictive"] = "predictive"
    name: str = Field(pattern=NAME_PATTERN)
    metric: CustomMetric
    unit_capacity: float = Field(gt=0, description="load one unit serves per metric period at 100 % utilization")
    target_utilization: float = Field(default=70, gt=0, le=100, description="percent, for the mean load")
    lead_s: int = Field(default=300, ge=0, le=3600, description="provisioning delay: how far ahead to provision")
    level_window_s: int = Field(default=900, ge=60, le=3600)
    peak_window_s: int = Field(default=3600, ge=60, le=6 * 3600)
    # 1.0: the busiest period of the peak window. Below 1: that share of the window's stretches of
    # lead_s + one period (rolling maxima) are covered, the busiest others are let go; the busiest
    # period of the last surge_window_s always counts (engine/predictive.py, "covered peak").
    peak_quantile: float = Field(default=1.0, gt=0, le=1)
    surge_window_s: int = Field(default=0, ge=0, le=3600)
    history_days: int = Field(default=14, ge=0, le=14)  # CloudWatch keeps 1-minute data 15 days
    timezone: IanaZone = "UTC"  # "the same time on previous days" is local clock time (DST-correct)

    @model_validator(mode="after")
    def _windows_cover_periods(self) -> PredictivePolicy:
        if self.metric.period_s % 60:
            raise ValueError("the load metric's period_s must be a multiple of 60")
        if min(self.level_window_s, self.peak_window_s) < self.metric.period_s:
            raise ValueError("level_window_s and peak_window_s must cover at least one metric period")
        if 0 < self.surge_window_s < self.metric.period_s:
            raise ValueError("surge_window_s must be 0 (off) or cover at least one metric period")
        return self


Policy = Annotated[
    TargetTrackingPolicy | StepScalingPolicy | ScheduledPolicy | PredictivePolicy, Field(discriminator="type")
]


class ScalingService(StrEnum):
    """The AWS service whose rules a target follows where EC2 Auto Scaling and Application Auto Scaling differ.

    EC2 Auto Scaling (Auto Scaling groups, and so kops instance groups) sizes target-tracking and step
    scale-outs with instance warm-up and uses no cooldowns for them; Application Auto Scaling (ECS
    services) uses cooldowns (docs/aws-semantics.md, "Cooldowns and instance warm-up"). The engine
    reads this, never the target's kind.
    """

    EC2_AUTO_SCALING = "ec2_auto_scaling"
    APPLICATION_AUTO_SCALING = "application_auto_scaling"


class TargetBase(Frozen):
    id: str = Field(pattern=TARGET_ID_PATTERN)
    min: int = Field(ge=0, le=MAX_CAPACITY_LIMIT)
    max: int = Field(ge=0, le=MAX_CAPACITY_LIMIT)
    mode: Mode = Mode.ADVISE
    paused: bool = False
    policies: list[Policy] = Field(default_factory=list, max_length=20)
    # HPA-style: scale in to the highest recommendation seen within this window.
    scale_in_stabilization_s: int = Field(default=300, ge=0, le=3600)
    description: str = Field(default="", max_length=500)
    # Where the target lives when not where Marea runs (docs/multi-account.md); left out of its JSON when unset.
    account_id: str | None = Field(default=None, pattern=ACCOUNT_ID_PATTERN, exclude_if=_absent)
    region: str | None = Field(default=None, pattern=REGION_PATTERN, exclude_if=_absent)
    role_arn: str | None = Field(default=None, max_length=2048, pattern=ROLE_ARN_PATTERN, exclude_if=_absent)
    external_id: str | None = Field(
        default=None,
        min_length=EXTERNAL_ID_LENGTH[0],
        max_length=EXTERNAL_ID_LENGTH[1],
        pattern=EXTERNAL_ID_PATTERN,
        exclude_if=_absent,
    )

    @model_validator(mode="after")
    def _consistent(self) -> TargetBase:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        names = [p.name for p in self.policies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(duplicates)}")
        self._check_location()
        return self

    def _check_location(self) -> None:
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id is passed when assuming role_arn: give role_arn too")
        if self.account_id is not None and self.role_arn is None:
            raise ValueError(
                f"account_id {self.account_id} is reached through a role Marea assumes there: give role_arn "
                "(infra/marea-spoke.yaml creates it), or leave account_id out for Marea's own account"
            )
        if self.account_id is not None and self.location.account_id != self.account_id:
            raise ValueError(f"role_arn is a role of account {self.location.account_id}, not of {self.account_id}")

    @property
    def location(self) -> Location:
        """Where the target's resources live, and the role Marea reads and changes them as."""
        return Location(region=self.region, role_arn=self.role_arn, external_id=self.external_id)

    @property
    def alarm_names(self) -> list[str]:
        """Alarms whose state changes trigger an evaluation of this target: step policies' own, and the ones
        target-tracking policies name as triggers."""
        steps = {p.alarm_name for p in self.policies if isinstance(p, StepScalingPolicy)}
        triggers = {p.trigger_alarm for p in self.policies if isinstance(p, TargetTrackingPolicy) and p.trigger_alarm}
        return sorted(steps | triggers)

    @property
    def scaling_service(self) -> ScalingService:
        """Cooldowns by default (a target of no kind, e.g. a replayed backtest target); kinds say theirs."""
        return ScalingService.APPLICATION_AUTO_SCALING


class AsgTarget(TargetBase):
    kind: Literal["asg"] = "asg"
    asg_name: str = Field(min_length=1, max_length=255)

    @property
    def scaling_service(self) -> ScalingService:
        return ScalingService.EC2_AUTO_SCALING


class EcsTarget(TargetBase):
    kind: Literal["ecs"] = "ecs"
    cluster: str = Field(min_length=1, max_length=255)
    service: str = Field(min_length=1, max_length=255)

    @model_validator(mode="after")
    def _arns_where_the_target_lives(self) -> EcsTarget:
        """A cluster or service given by ARN (arn:aws:ecs:REGION:ACCOUNT:...) lives in that account and Region:
        the target must not name others."""
        for field, value in (("cluster", self.cluster), ("service", self.service)):
            parts = value.split(":")
            if not value.startswith("arn:") or len(parts) < 6:
                continue
            region, account = parts[3], parts[4]
            if self.region is not None and region != self.region:
                raise ValueError(f"{field} is an ARN in Region {region}, but the target names Region {self.region}")
            if self.location.account_id is not None and account != self.location.account_id:
                raise ValueError(
                    f"{field} is an ARN in account {account}, but the target's role is in {self.location.account_id}"
                )
        return self


class KopsSizing(StrEnum):
    """How a capacity becomes instance-group sizes.

    pinned: minSize = maxSize = N, so the ASG follows exactly. floor: minSize = N and maxSize = the
    target's max, leaving headroom to a Kubernetes cluster-autoscaler.
    """

    PINNED = "pinned"
    FLOOR = "floor"


class KopsTarget(TargetBase):
    """A kops instance group. Never resized through its ASG: kops would undo it on the next
    `kops update cluster`; Marea changes the instance group itself, from a runner task. Where that
    task runs (cluster, task definition, network) is the stage's (settings.KopsRunner), not the target's."""

    kind: Literal["kops"] = "kops"
    # The runner validates the same names with the same patterns (chalicelib/kops_names.py).
    cluster_name: str = Field(
        min_length=1, max_length=kops_names.CLUSTER_NAME_MAX_LENGTH, pattern=kops_names.CLUSTER_NAME_PATTERN
    )
    instance_group: str = Field(
        min_length=1, max_length=kops_names.INSTANCE_GROUP_MAX_LENGTH, pattern=kops_names.INSTANCE_GROUP_PATTERN
    )
    state_store: str = Field(max_length=kops_names.STATE_STORE_MAX_LENGTH, pattern=kops_names.STATE_STORE_PATTERN)
    sizing: KopsSizing = KopsSizing.PINNED
    # A runner that has not reported after this long is marked failed on the next evaluation.
    runner_timeout_s: int = Field(default=900, ge=60, le=3600)

    @model_validator(mode="after")
    def _where_the_runner_acts(self) -> KopsTarget:
        if not self.location.is_home:
            raise ValueError(
                "a kops instance group is changed by the stage's kops runner, which acts in Marea's own account "
                "and Region: account_id, region and role_arn are not supported for kops targets"
            )
        return self

    @property
    def asg_name(self) -> str:
        """The ASG kops creates for a node instance group."""
        return f"{self.instance_group}.{self.cluster_name}"

    @property
    def scaling_service(self) -> ScalingService:
        """An instance group is an EC2 Auto Scaling group underneath: its instances warm up the same way."""
        return ScalingService.EC2_AUTO_SCALING


# New target kinds join this union; the engine never looks at the kind.
Target = Annotated[AsgTarget | EcsTarget | KopsTarget, Field(discriminator="kind")]
TargetKind = Literal["asg", "ecs", "kops"]
