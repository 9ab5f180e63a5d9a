"""What a CloudWatch metric measures in the replay world, and how its datapoints aggregate per period.

The world has one load (demand, requests per minute) served by ready units of capacity U, so every
metric a policy or an alarm reads is one of three readings of it, minute by minute:

- UTILIZATION: percent of what the serving units can serve, ``100 · demand / (ready · U)``: CPU and
  memory utilizations (the predefined CPU and memory metrics, and metrics named ``...Utilization``
  or ``...Percent``), taken to move with the load as the world model says;
- PER_UNIT: the load each serving unit took, ``demand / ready``: the ALB's ``RequestCountPerTarget``,
  and any other gauge averaged over the units (connections per task, jobs per worker);
- TOTAL: the target's whole load, ``demand``: a count summed over the target (``Sum`` of the ALB's
  ``RequestCount``).

No unit serving: UTILIZATION and PER_UNIT have no datapoint (CloudWatch has no average over no unit).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import StrEnum

from chalicelib.models.targets import CustomMetric, PredefinedMetric, PredefinedMetricType, Statistic

# AWS publishes RequestCountPerTarget as RequestCount / healthy targets, with the Sum statistic only.
PER_UNIT_REQUEST_METRICS = frozenset({("AWS/ApplicationELB", "RequestCountPerTarget")})
_PERCENT_NAME = re.compile(r"utili[sz]ation|percent", re.IGNORECASE)


class Reading(StrEnum):
    UTILIZATION = "utilization"
    PER_UNIT = "per_unit"
    TOTAL = "total"


def reading_of(metric: CustomMetric | PredefinedMetric) -> Reading:
    """What a policy's metric measures in the replay world."""
    if isinstance(metric, PredefinedMetric):
        if metric.predefined is PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET:
            return Reading.PER_UNIT
        return Reading.UTILIZATION
    return reading_of_named(metric.namespace, metric.metric_name, metric.statistic.value)


def reading_of_named(namespace: str, metric_name: str, statistic: str) -> Reading:
    """What a metric, by namespace, name and statistic (an alarm's), measures in the replay world."""
    if (namespace, metric_name) in PER_UNIT_REQUEST_METRICS:
        return Reading.PER_UNIT
    if _PERCENT_NAME.search(metric_name):
        return Reading.UTILIZATION
    if statistic == Statistic.SUM.value:
        return Reading.TOTAL
    return Reading.PER_UNIT


# How the per-minute values of a period make its datapoint, per CloudWatch statistic. In the world every
# unit carries the same load within a minute, so a minute's value is already each statistic of that minute.
AGGREGATES: dict[str, Callable[[Sequence[float]], float]] = {
    Statistic.SUM.value: sum,
    Statistic.AVERAGE.value: lambda values: sum(values) / len(values),
    Statistic.MAXIMUM.value: max,
    Statistic.MINIMUM.value: min,
}
