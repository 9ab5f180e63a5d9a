"""What a target's backtest reads from CloudWatch: its demand, and the alarms of its step policies.

- the demand: the request count the target's policies read (or ``demand_metric``), or a tracked
  utilization with the units serving (chalicelib/derived_demand.py), in one GetMetricData call;
- the alarms: one DescribeAlarms call for every step policy replayed, current or proposed.

Errors are the API's: 400 for a body that names no demand, 422 for what cannot be read or replayed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.backtest import PolicySpec
from chalicelib.demand import Demand, demand_metric, describe_metrics, per_minute, read_datapoints, read_series
from chalicelib.derived_demand import DerivedDemand, derive, tracked_gauge
from chalicelib.errors import UnprocessableError, ValidationFailedError
from chalicelib.models.backtest import BacktestRequest
from chalicelib.models.targets import AsgTarget, CustomMetric, EcsTarget, KopsTarget, StepScalingPolicy, TargetBase

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient


def demand_source(request: BacktestRequest, target: AsgTarget | EcsTarget | KopsTarget) -> CustomMetric | DerivedDemand:
    """The request count to read, or the tracked utilization (or load per unit) to derive it from."""
    if request.demand_metric is not None:
        return request.demand_metric.as_metric()
    metric = demand_metric(target)
    if metric is not None:
        return metric
    derived = tracked_gauge(target)
    if derived is None:
        raise ValidationFailedError(
            f"demand_metric: target {target.id!r} tracks no request count nor utilization (its policies read"
            f" {describe_metrics(target)}); name the CloudWatch metric that counts its requests"
        )
    return derived


def read_demand(
    cloudwatch: CloudWatchClient, source: CustomMetric | DerivedDemand, request: BacktestRequest, end: datetime
) -> Demand | None:
    start = end - timedelta(days=request.days)
    try:
        if isinstance(source, CustomMetric):
            return per_minute(read_datapoints(cloudwatch, source, start, end))
        series = read_series(cloudwatch, {"gauge": source.gauge, "serving": source.serving}, start, end)
        if series["gauge"] and not series["serving"]:
            serving = source.serving
            raise UnprocessableError(
                f"the demand of target {request.target!r} is derived from {source.gauge.metric_name} and the units"
                f" serving, but {serving.namespace} {serving.metric_name} {serving.dimensions} has no datapoint in"
                f" the last {request.days} days ({_PUBLISHED_BY.get(serving.namespace, 'publish it')}); or name"
                " demand_metric"
            )
        return derive(series["gauge"], series["serving"], source.reading, request.unit_capacity)
    except ValueError as exc:
        raise UnprocessableError(str(exc)) from exc


# What turns the serving-units metric on, for the error that says it is missing.
_PUBLISHED_BY = {
    "AWS/AutoScaling": "enable group metrics collection on the Auto Scaling group: EnableMetricsCollection, 1Minute",
    "ECS/ContainerInsights": "turn Container Insights on for the cluster",
}


def alarm_definitions(cloudwatch: CloudWatchClient, runs: list[PolicySpec]) -> dict[str, AlarmDefinition]:
    """The alarms of the step policies replayed, from one DescribeAlarms call; 422 for one that is missing
    or that a replay cannot evaluate (metric math, anomaly detection)."""
    names = sorted(
        {
            p.alarm_name
            for run in runs
            if isinstance(run, TargetBase)
            for p in run.policies
            if isinstance(p, StepScalingPolicy)
        }
    )
    if not names:
        return {}
    # At most 40 names (20 policies current, 20 proposed): one page of MaxRecords 100.
    response = cloudwatch.describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm"], MaxRecords=100)
    found = {alarm["AlarmName"]: alarm for alarm in response.get("MetricAlarms", [])}
    absent = [name for name in names if name not in found]
    if absent:
        raise UnprocessableError(
            f"step policies act on alarms that do not exist: {', '.join(absent)} (a replay evaluates each alarm as"
            " DescribeAlarms defines it)"
        )
    try:
        return {name: AlarmDefinition.from_metric_alarm(found[name]) for name in names}
    except ValueError as exc:  # UnsupportedAlarmError, or an entry that is not a valid alarm
        raise UnprocessableError(f"a step policy's alarm cannot be replayed: {exc}") from exc
