"""Demand from a tracked utilization: how busy the serving units were, times how many served.

A target that tracks only a utilization (CPU, memory) or a gauge per unit (connections per task)
counts no requests, but given the capacity U of one unit (requests per minute at 100 %) its demand
per minute is

- ``u x n x U / 100`` for a utilization u in percent,
- ``g x n`` for a load per unit g (then U is only the world's capacity, in the same unit as g),

with n the units serving in that minute, read from what AWS publishes per minute:

- asg, and kops (its instance group's ASG): ``AWS/AutoScaling`` ``GroupInServiceInstances``
  (``AutoScalingGroupName``), published once group metrics collection is enabled
  (EnableMetricsCollection, granularity ``1Minute``);
- ecs: ``ECS/ContainerInsights`` ``RunningTaskCount`` (``ClusterName``, ``ServiceName``),
  published when Container Insights is on for the cluster.

A minute where either is missing, or no unit served (nothing to measure the load by), holds the
previous minute's demand and counts as missing. A utilization saturates at 100 %: minutes at 100 %
give a lower bound of what came.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from chalicelib.backtest.world_metrics import Reading, reading_of
from chalicelib.demand import MINUTE, PERIOD_S, Demand
from chalicelib.metrics import resolve_metric
from chalicelib.models.targets import (
    AsgTarget,
    CustomMetric,
    EcsTarget,
    KopsTarget,
    Statistic,
    TargetTrackingPolicy,
)


@dataclass(frozen=True)
class DerivedDemand:
    """The tracked gauge (utilization or load per unit) and the metric of the units serving."""

    gauge: CustomMetric
    reading: Reading
    serving: CustomMetric

    def formula(self, unit_capacity: float) -> str:
        gauge = f"{self.gauge.metric_name} ({self.gauge.statistic.value})"
        units = self.serving.metric_name
        if self.reading is Reading.UTILIZATION:
            return f"{gauge} x {units} x {unit_capacity:g} / 100"
        return f"{gauge} x {units}"


def serving_units_metric(target: AsgTarget | EcsTarget | KopsTarget) -> CustomMetric:
    """The metric AWS publishes with the units of ``target`` serving, one datapoint a minute."""
    if isinstance(target, EcsTarget):
        return CustomMetric(
            namespace="ECS/ContainerInsights",
            metric_name="RunningTaskCount",
            dimensions={"ClusterName": target.cluster, "ServiceName": target.service},
        )
    return CustomMetric(
        namespace="AWS/AutoScaling",
        metric_name="GroupInServiceInstances",
        dimensions={"AutoScalingGroupName": target.asg_name},
    )


def tracked_gauge(target: AsgTarget | EcsTarget | KopsTarget) -> DerivedDemand | None:
    """The first target-tracking policy's utilization or load per unit, with the units serving; None if none."""
    for policy in target.policies:
        if not isinstance(policy, TargetTrackingPolicy):
            continue
        reading = reading_of(policy.metric)
        if reading is Reading.TOTAL:
            continue
        try:
            metric = resolve_metric(target, policy.metric)
        except ValueError:  # a predefined metric of another kind of target: it reads nothing here
            continue
        # Always the mean over the units: u x n is the demand only for the average (a policy on the
        # Maximum would overstate it by the spread between units, a Sum count it n times).
        return DerivedDemand(
            gauge=metric.model_copy(update={"period_s": PERIOD_S, "statistic": Statistic.AVERAGE}),
            reading=reading,
            serving=serving_units_metric(target),
        )
    return None


def derive(
    gauge: list[tuple[datetime, float]],
    serving: list[tuple[datetime, float]],
    reading: Reading,
    unit_capacity: float,
) -> Demand | None:
    """Requests per minute from the first gauge datapoint to the last; None without gauge datapoints.

    Values must be finite and >= 0 (ValueError otherwise).
    """
    if not gauge:
        return None
    _check(gauge, "tracked metric")
    _check(serving, "serving units metric")
    scale = unit_capacity / 100 if reading is Reading.UTILIZATION else 1.0
    values, units = dict(gauge), dict(serving)
    start = gauge[0][0]
    minutes = int((gauge[-1][0] - start) / MINUTE) + 1
    requests: list[float] = []
    missing = 0
    previous = 0.0
    for index in range(minutes):
        at = start + index * MINUTE
        value, serving_units = values.get(at), units.get(at)
        if value is None or not serving_units:
            missing += 1
        else:
            previous = value * serving_units * scale
        requests.append(previous)
    return Demand(start=start, requests=tuple(requests), missing_minutes=missing)


def _check(points: list[tuple[datetime, float]], what: str) -> None:
    for at, value in points:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"the {what} has a value that is not a load: {value} at {at.isoformat()}")
