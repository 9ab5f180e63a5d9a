"""Backtest a registered target on its own recent traffic (POST /backtest).

Reads the last N days of the target's demand from CloudWatch (chalicelib/demand.py), replays them
through the target's current policies and a proposed policy in the same world (chalicelib/backtest),
and returns both summaries side by side. Reads only: the registry (one GetItem) and CloudWatch
(chalicelib/backtest_inputs.py: one GetMetricData call, paginated, and one DescribeAlarms call when
step policies are replayed); nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from chalicelib.backtest import (
    PolicySpec,
    Result,
    Summary,
    UnsupportedPolicyError,
    World,
    run_backtest,
    trace_from_rates,
)
from chalicelib.backtest.world import Kind
from chalicelib.backtest_inputs import alarm_definitions, demand_source, read_demand
from chalicelib.errors import NoDataError, UnprocessableError, ValidationFailedError
from chalicelib.metrics import resolve_metric
from chalicelib.models.backtest import (
    BacktestRequest,
    BacktestResponse,
    Change,
    Comparison,
    PolicyRun,
    SummaryFigures,
    Trajectory,
    Units,
    WorldFigures,
)
from chalicelib.models.location import Location
from chalicelib.models.targets import (
    AsgTarget,
    CustomMetric,
    EcsTarget,
    KopsTarget,
    PredictivePolicy,
    TargetBase,
    TargetTrackingPolicy,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

    from chalicelib.store.targets import TargetRegistry

# Units of each target kind and the world's provisioning delay they get (chalicelib/backtest/world.py):
# an ASG adds EC2 instances, an ECS service Fargate tasks, a kops instance group nodes.
KIND_OF_TARGET: dict[str, Kind] = {"asg": "ec2", "ecs": "fargate", "kops": "kops"}


def backtest_target(
    request: BacktestRequest,
    registry: TargetRegistry,
    cloudwatch: Callable[[Location], CloudWatchClient],
    now: datetime,
) -> BacktestResponse:
    """Replay the last ``request.days`` of whole minutes before ``now`` under current and proposed policies,
    on the metrics and alarms of the account and Region the target lives in (``cloudwatch``: their client)."""
    target = registry.require(request.target).target
    return backtest(request, target, cloudwatch(target.location), now)


def backtest(
    request: BacktestRequest, target: AsgTarget | EcsTarget | KopsTarget, cloudwatch: CloudWatchClient, now: datetime
) -> BacktestResponse:
    """``backtest_target`` for a target already read (bench/backtest_api.py times this)."""
    source = demand_source(request, target)
    metric = source if isinstance(source, CustomMetric) else source.gauge
    proposed = _proposed(request, target)
    current = _current(target)
    alarms = alarm_definitions(cloudwatch, [current, proposed])
    end = now.replace(second=0, microsecond=0)  # the minute in progress is not complete yet
    demand = read_demand(cloudwatch, source, request, end)
    if demand is None:
        raise NoDataError(
            f"no datapoints of {metric.namespace} {metric.metric_name} {metric.dimensions}"
            f" ({metric.statistic.value}, 1 minute) in the last {request.days} days"
        )
    zone = request.timezone or _target_zone(target)
    world = World(
        kind=KIND_OF_TARGET[target.kind],
        unit_capacity=request.unit_capacity,
        target_utilization=request.target_utilization,
        min_units=target.min,
        max_units=target.max,
        start=demand.start.astimezone(ZoneInfo(zone)),
    )
    trace = trace_from_rates(target.id, demand.requests)
    try:
        current_run = run_backtest(trace, current, world, label=_label(current), alarms=alarms)
        proposed_run = run_backtest(trace, proposed, world, label=_label(proposed), alarms=alarms)
    except UnsupportedPolicyError as exc:
        raise UnprocessableError(f"target {target.id!r} cannot be replayed: {exc}") from exc
    return BacktestResponse(
        target=target.id,
        metric=metric,
        serving_metric=None if isinstance(source, CustomMetric) else source.serving,
        demand_formula=(
            f"{metric.metric_name} ({metric.statistic.value})"
            if isinstance(source, CustomMetric)
            else source.formula(request.unit_capacity)
        ),
        days=request.days,
        first_minute=demand.start,
        last_minute=demand.last_minute,
        minutes=len(demand.requests),
        missing_minutes=demand.missing_minutes,
        world=WorldFigures(
            kind=world.kind,
            provisioning_delay_min=world.delay_min,
            unit_capacity=world.unit_capacity,
            target_utilization=world.target_utilization,
            min_units=world.min_units,
            max_units=world.max_units,
            timezone=zone,
        ),
        current=_policy_run(current_run),
        proposed=_policy_run(proposed_run),
        comparison=compare(current_run.summary, proposed_run.summary),
        trajectory=_trajectory(current_run, proposed_run) if request.trajectory else None,
    )


def compare(current: Summary, proposed: Summary) -> Comparison:
    # The history is read a minute per datapoint, so the replay's steps are minutes.
    under = _change(current.under_provisioned_steps, proposed.under_provisioned_steps)
    hours = _change(current.unit_hours, proposed.unit_hours)
    no_worse = under.change <= 0 and hours.change <= 0
    return Comparison(
        under_provisioned_minutes=under,
        unit_hours=hours,
        scaling_actions=_change(current.scaling_actions, proposed.scaling_actions),
        proposed_is_better=no_worse and (under.change < 0 or hours.change < 0),
    )


def figures(summary: Summary) -> SummaryFigures:
    return SummaryFigures(
        minutes=summary.steps,  # a minute a step: the history is read a minute per datapoint
        under_provisioned_minutes=summary.under_provisioned_steps,
        under_provisioned_pct=summary.under_provisioned_pct,
        unit_hours=summary.unit_hours,
        ideal_unit_hours=summary.ideal_unit_hours,
        cost_vs_ideal=summary.cost_vs_ideal if summary.ideal_unit_hours else None,
        scaling_actions=summary.scaling_actions,
        scale_outs=summary.scale_outs,
        scale_ins=summary.scale_ins,
        theta_u=summary.theta_u,
        theta_o=summary.theta_o,
        tau_u=summary.tau_u,
        tau_o=summary.tau_o,
        jitter_per_hour=summary.jitter_per_hour,
    )


def _current(target: TargetBase) -> TargetBase:
    """The target as its policies stand; a paused target is replayed as if it were running."""
    return target.model_copy(update={"paused": False})


def _proposed(request: BacktestRequest, target: TargetBase) -> PolicySpec:
    """A preset name, or the target with its policies replaced by the proposed ones."""
    if isinstance(request.proposed, str):
        return request.proposed
    for index, policy in enumerate(request.proposed):
        if isinstance(policy, TargetTrackingPolicy):
            try:
                resolve_metric(target, policy.metric)
            except ValueError as exc:
                raise ValidationFailedError(f"proposed.{index}.metric: {exc}") from exc
    update: dict[str, object] = {"policies": list(request.proposed), "paused": False}
    if request.scale_in_stabilization_s is not None:
        update["scale_in_stabilization_s"] = request.scale_in_stabilization_s
    return target.model_copy(update=update)


def _target_zone(target: TargetBase) -> str:
    zones = [p.timezone for p in target.policies if isinstance(p, PredictivePolicy)]
    return zones[0] if zones else "UTC"


def _label(policy: PolicySpec) -> str:
    if isinstance(policy, str):
        return policy
    return "+".join(p.name for p in policy.policies) or "no policies"


def _change(current: float, proposed: float) -> Change:
    return Change(
        current=current,
        proposed=proposed,
        change=proposed - current,
        ratio=proposed / current if current else None,
    )


def _policy_run(result: Result) -> PolicyRun:
    return PolicyRun(label=result.policy, summary=figures(result.summary), cpu_seconds=result.cpu_seconds)


def _trajectory(current: Result, proposed: Result) -> Trajectory:
    # model_construct: 20,160 minutes x 5 series of values that are valid by construction.
    return Trajectory.model_construct(
        demand=list(current.demand),
        current=Units.model_construct(desired=list(current.desired), ready=list(current.ready)),
        proposed=Units.model_construct(desired=list(proposed.desired), ready=list(proposed.ready)),
    )
