"""A target's demand: which CloudWatch metric counts its requests, and its value minute by minute.

A backtest replays requests, so it needs a request count, not a utilization:

- a predictive policy's load metric read with ``Sum`` is the target's total requests by definition;
- a target-tracking policy on the ALB's request count per target (``ALBRequestCountPerTarget``, or
  the custom ``AWS/ApplicationELB`` ``RequestCountPerTarget`` with both of its dimensions) implies
  the target group's ``RequestCount`` (dimensions ``LoadBalancer`` and ``TargetGroup``, ``Sum``);
- anything else (CPU, memory, custom utilizations) says nothing about how many requests came, so
  the caller has to name the metric.

The values are read with one GetMetricData query at a 1-minute period (14 days are 20,160
datapoints: one page, the limit being 100,800; further pages follow NextToken). Minutes without a
datapoint between the first and the last one count as 0 requests: ALB and most request counters
publish nothing for a minute without requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.models.targets import (
    CustomMetric,
    PredefinedMetric,
    PredefinedMetricType,
    PredictivePolicy,
    Statistic,
    TargetBase,
    TargetTrackingPolicy,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

MINUTE = timedelta(minutes=1)
PERIOD_S = 60
ALB_NAMESPACE = "AWS/ApplicationELB"
_TARGET_GROUP_MARK = "/targetgroup/"


@dataclass(frozen=True)
class Demand:
    """Requests per minute from ``start`` on, one value a minute, gaps filled with 0."""

    start: datetime
    requests: tuple[float, ...]
    missing_minutes: int  # minutes between the first and the last datapoint that had none

    @property
    def last_minute(self) -> datetime:
        return self.start + (len(self.requests) - 1) * MINUTE


def demand_metric(target: TargetBase) -> CustomMetric | None:
    """The request count the target's policies already read, per minute; None when they read none."""
    for policy in target.policies:
        if isinstance(policy, PredictivePolicy) and policy.metric.statistic is Statistic.SUM:
            return policy.metric.model_copy(update={"period_s": PERIOD_S})
    for policy in target.policies:
        if isinstance(policy, TargetTrackingPolicy):
            metric = _alb_request_count(policy.metric)
            if metric is not None:
                return metric
    return None


def describe_metrics(target: TargetBase) -> str:
    """What the target's policies read, for an error that asks the caller to name the demand."""
    read = []
    for policy in target.policies:
        if isinstance(policy, TargetTrackingPolicy | PredictivePolicy):
            metric = policy.metric
            read.append(metric.predefined.value if isinstance(metric, PredefinedMetric) else metric.metric_name)
    return ", ".join(sorted(set(read))) or "no metric"


def _alb_request_count(metric: CustomMetric | PredefinedMetric) -> CustomMetric | None:
    if isinstance(metric, PredefinedMetric):
        if metric.predefined is not PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET or not metric.resource_label:
            return None
        load_balancer, mark, target_group = metric.resource_label.partition(_TARGET_GROUP_MARK)
        if not (mark and load_balancer and target_group):
            return None
        dimensions = {"LoadBalancer": load_balancer, "TargetGroup": f"targetgroup/{target_group}"}
    elif (metric.namespace, metric.metric_name) == (ALB_NAMESPACE, "RequestCountPerTarget") and {
        "LoadBalancer",
        "TargetGroup",
    } <= set(metric.dimensions):
        dimensions = {
            "LoadBalancer": metric.dimensions["LoadBalancer"],
            "TargetGroup": metric.dimensions["TargetGroup"],
        }
    else:
        return None
    return CustomMetric(
        namespace=ALB_NAMESPACE,
        metric_name="RequestCount",
        dimensions=dimensions,
        statistic=Statistic.SUM,
        period_s=PERIOD_S,
    )


def read_datapoints(
    cloudwatch: CloudWatchClient, metric: CustomMetric, start: datetime, end: datetime
) -> list[tuple[datetime, float]]:
    """(minute, value) of ``metric`` for the minutes starting in [start, end), oldest first."""
    return read_series(cloudwatch, {"demand": metric}, start, end)["demand"]


def read_series(
    cloudwatch: CloudWatchClient, metrics: dict[str, CustomMetric], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    """(minute, value) of each metric (by query id) for the minutes in [start, end): one paginated
    GetMetricData call for all of them (up to 500 queries a call; a page holds 100,800 datapoints)."""
    queries: Any = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": metric.namespace,
                    "MetricName": metric.metric_name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(metric.dimensions.items())],
                },
                "Period": PERIOD_S,
                "Stat": metric.statistic.value,
            },
            "ReturnData": True,
        }
        for query_id, metric in metrics.items()
    ]
    points: dict[str, list[tuple[datetime, float]]] = {query_id: [] for query_id in metrics}
    paginator = cloudwatch.get_paginator("get_metric_data")
    for page in paginator.paginate(
        MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
    ):
        for result in page["MetricDataResults"]:
            pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            points[result["Id"]].extend((at.astimezone(UTC), value) for at, value in pairs)
    return {query_id: sorted((at, v) for at, v in series if start <= at < end) for query_id, series in points.items()}


def per_minute(points: list[tuple[datetime, float]]) -> Demand | None:
    """One value a minute from the first datapoint to the last, 0 where none; None without datapoints.

    Values must be request counts: finite and >= 0 (ValueError otherwise).
    """
    if not points:
        return None
    start = points[0][0]
    minutes = int((points[-1][0] - start) / MINUTE) + 1
    requests = [0.0] * minutes
    seen = [False] * minutes
    for at, value in points:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"the demand metric is not a request count: {value} at {at.isoformat()}")
        index = int((at - start) / MINUTE)
        requests[index] = value
        seen[index] = True
    return Demand(start=start, requests=tuple(requests), missing_minutes=seen.count(False))
