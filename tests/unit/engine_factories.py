"""Small builders for engine tests: targets, policies, signals and histories with sane defaults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.models.signals import (
    AlarmObservation,
    AlarmState,
    CapacityChange,
    Datapoint,
    Recommendation,
    ResourceBounds,
    Signal,
    TargetHistory,
)
from chalicelib.models.targets import (
    AdjustmentType,
    AsgTarget,
    CustomMetric,
    EcsTarget,
    PredefinedMetric,
    PredefinedMetricType,
    ScheduledAction,
    ScheduledPolicy,
    StepAdjustment,
    StepScalingPolicy,
    TargetTrackingPolicy,
)

# A Friday, in winter time for Europe/Madrid (CET, UTC+1).
NOW = datetime(2024, 3, 29, 12, 0, tzinfo=UTC)
CPU = PredefinedMetric(predefined=PredefinedMetricType.ASG_AVERAGE_CPU)


def tt_policy(name: str = "cpu", target_value: float = 60.0, **overrides: Any) -> TargetTrackingPolicy:
    return TargetTrackingPolicy(name=name, metric=overrides.pop("metric", CPU), target_value=target_value, **overrides)


def custom_metric(name: str = "QueueDepth", period_s: int = 60) -> CustomMetric:
    return CustomMetric(namespace="App", metric_name=name, period_s=period_s)


def step_policy(
    name: str = "burst",
    alarm_name: str = "high-cpu",
    adjustment_type: AdjustmentType = AdjustmentType.CHANGE_IN_CAPACITY,
    steps: Sequence[tuple[float | None, float | None, int]] = ((0, None, 2),),
    **overrides: Any,
) -> StepScalingPolicy:
    return StepScalingPolicy(
        name=name,
        alarm_name=alarm_name,
        adjustment_type=adjustment_type,
        steps=[StepAdjustment(lower_bound=lo, upper_bound=hi, adjustment=adj) for lo, hi, adj in steps],
        **overrides,
    )


def action(name: str = "business-hours", cron: str = "0 8 * * *", **overrides: Any) -> ScheduledAction:
    return ScheduledAction(name=name, cron=cron, **overrides)


def scheduled_policy(*actions: ScheduledAction, name: str = "calendar") -> ScheduledPolicy:
    return ScheduledPolicy(name=name, actions=list(actions))


def target(*policies: Any, min_capacity: int = 1, max_capacity: int = 10, **overrides: Any) -> AsgTarget:
    return AsgTarget(
        id="web", asg_name="web-asg", min=min_capacity, max=max_capacity, policies=list(policies), **overrides
    )


def ecs_target(*policies: Any, min_capacity: int = 1, max_capacity: int = 20, **overrides: Any) -> EcsTarget:
    """An ECS service: Application Auto Scaling's rules (cooldowns) where they differ from EC2's."""
    return EcsTarget(
        id="chat",
        cluster="demo",
        service="chat",
        min=min_capacity,
        max=max_capacity,
        policies=list(policies),
        **overrides,
    )


def series(values: Sequence[float], end: datetime = NOW, period_s: int = 60) -> list[Datapoint]:
    """Datapoints oldest first, the last one at ``end``, one per period."""
    count = len(values)
    return [
        Datapoint(timestamp=end - timedelta(seconds=period_s * (count - 1 - i)), value=v) for i, v in enumerate(values)
    ]


def alarm(
    state: AlarmState, value: float | None = None, threshold: float | None = None, name: str = "high-cpu"
) -> AlarmObservation:
    return AlarmObservation(name=name, state=state, value=value, threshold=threshold)


def signal(
    current: int,
    metrics: dict[str, list[Datapoint]] | None = None,
    alarms: Sequence[AlarmObservation] = (),
    bounds: ResourceBounds | None = None,
    serving: int | None = None,
    scale_in_suspended: str | None = None,
) -> Signal:
    return Signal(
        current_capacity=current,
        serving_capacity=serving,
        metrics=metrics or {},
        alarms={a.name: a for a in alarms},
        resource_bounds=bounds or ResourceBounds(),
        scale_in_suspended=scale_in_suspended,
    )


def history(
    scaled_out_s_ago: float | None = None,
    scaled_in_s_ago: float | None = None,
    recommendations: Sequence[tuple[float, int]] = (),
    policy_actions_s_ago: dict[str, float] | None = None,
    now: datetime = NOW,
    scaled_out: tuple[int, int] | None = None,
) -> TargetHistory:
    """A history described in seconds before ``now``; ``scaled_out`` = (before, after) of the last scale-out."""

    def ago(seconds: float) -> datetime:
        return now - timedelta(seconds=seconds)

    before, after = scaled_out if scaled_out is not None else (None, 1)
    return TargetHistory(
        last_scale_out=None
        if scaled_out_s_ago is None
        else CapacityChange(at=ago(scaled_out_s_ago), capacity=after, before=before),
        last_scale_in=None if scaled_in_s_ago is None else CapacityChange(at=ago(scaled_in_s_ago), capacity=1),
        last_action_by_policy={k: ago(v) for k, v in (policy_actions_s_ago or {}).items()},
        recommendations=[Recommendation(at=ago(s), capacity=c) for s, c in recommendations],
    )
