"""Gather what the engine needs for one target: metric datapoints and alarm states.

One GetMetricData call for all target-tracking policies together, each read as far back as its
longest window needs (docs/aws-semantics.md, "Alarm windows and how far back Marea reads"),
skipped for a policy whose windows the triggering ALARM event's datapoints already decide ("The
datapoints an alarm event carries"). One DescribeAlarms call, only for step-policy alarms the
event did not describe. A target with predictive policies adds one GetMetricData call for their
days of load history (one page holds 14 days of 1-minute data for up to 4 policies); targets
without them make no extra call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.engine.predictive import history_start
from chalicelib.engine.target_tracking import decided_by_newest
from chalicelib.metric_retention import oldest_readable
from chalicelib.metrics import resolve_metric
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.signals import AlarmObservation, AlarmState, ComparisonOperator, Datapoint, Signal
from chalicelib.models.targets import (
    CustomMetric,
    PredictivePolicy,
    StepScalingPolicy,
    TargetBase,
    TargetTrackingPolicy,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

_MAX_QUERIES_PER_CALL = 500  # GetMetricData limit

# A CloudWatch metric as a policy reads it: namespace, name, dimensions, statistic, period.
MetricKey = tuple[str, str, tuple[tuple[str, str], ...], str, int]


def metric_key(metric: CustomMetric) -> MetricKey:
    return (
        metric.namespace,
        metric.metric_name,
        tuple(sorted(metric.dimensions.items())),
        metric.statistic.value,
        metric.period_s,
    )


@dataclass(frozen=True)
class PlannedRead:
    """One GetMetricData call (before pagination): its StartTime and the queries it holds."""

    start: datetime
    indexes: tuple[int, ...]


def plan_reads(periods_and_lookbacks: Sequence[tuple[int, timedelta]], now: datetime) -> list[PlannedRead]:
    """The calls that read each (period_s, lookback) query back to ``now - lookback``.

    One call when its StartTime is within what CloudWatch keeps of every query's period; a query
    whose period is not kept that long would return nothing at all (a 10 s metric beside a day-long
    window), so then one call per period. Each call's StartTime is aligned to its periods, so the
    datapoints fall on period boundaries as an alarm's do.
    """
    if not periods_and_lookbacks:
        return []
    every = tuple(range(len(periods_and_lookbacks)))
    shared = _planned(periods_and_lookbacks, every, now)
    if all(now - shared.start <= oldest_readable(periods_and_lookbacks[i][0]) for i in every):
        return [shared]
    by_period: dict[int, list[int]] = {}
    for index, (period_s, _) in enumerate(periods_and_lookbacks):
        by_period.setdefault(period_s, []).append(index)
    return [_planned(periods_and_lookbacks, tuple(indexes), now) for indexes in by_period.values()]


def _planned(requests: Sequence[tuple[int, timedelta]], indexes: tuple[int, ...], now: datetime) -> PlannedRead:
    periods = [requests[i][0] for i in indexes]
    earliest = min(now - requests[i][1] for i in indexes)
    # Align to the longest period when every other one divides it; otherwise to the minute, as
    # CloudWatch itself rounds a StartTime (10 and 30 s periods divide the minute too).
    alignment = math.lcm(*periods) if math.lcm(*periods) == max(periods) else 60
    epoch_s = int(earliest.timestamp())
    return PlannedRead(datetime.fromtimestamp(epoch_s - epoch_s % alignment, tz=UTC), indexes)


class SignalCollector:
    def __init__(self, cloudwatch: CloudWatchClient) -> None:
        self._cloudwatch = cloudwatch

    def collect(
        self,
        target: TargetBase,
        reading: CapacityReading,
        now: datetime,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
    ) -> Signal:
        """``known_*``: what the triggering event already carries, so it is not read again."""
        return Signal(
            current_capacity=reading.current,
            serving_capacity=reading.serving,
            metrics=self._metrics(target, now, known_metrics or {}),
            alarms=self._alarms(target, known_alarms),
            resource_bounds=reading.bounds,
            scale_in_suspended=reading.scale_in_suspended,
            history=self._history(target, now),
        )

    def _metrics(
        self, target: TargetBase, now: datetime, known: dict[MetricKey, list[Datapoint]]
    ) -> dict[str, list[Datapoint]]:
        series: dict[str, list[Datapoint]] = {}
        unread: list[tuple[TargetTrackingPolicy, CustomMetric]] = []
        for policy in target.policies:
            if isinstance(policy, TargetTrackingPolicy):
                metric = resolve_metric(target, policy.metric)
                given = known.get(metric_key(metric))
                if given is not None and decided_by_newest(policy, given, now):
                    series[policy.name] = list(given)
                else:
                    unread.append((policy, metric))
        unread = unread[:_MAX_QUERIES_PER_CALL]
        read: list[list[Datapoint]] = [[] for _ in unread]
        for planned in plan_reads([(metric.period_s, policy.lookback) for policy, metric in unread], now):
            points = self._read([unread[i][1] for i in planned.indexes], planned.start, now)
            for index, found in zip(planned.indexes, points, strict=True):
                read[index] = found
        series.update({policy.name: points for (policy, _), points in zip(unread, read, strict=True)})
        return series

    def _history(self, target: TargetBase, now: datetime) -> dict[str, list[Datapoint]]:
        """Days of load per predictive policy, for its seasonal forecast."""
        policies = [p for p in target.policies if isinstance(p, PredictivePolicy)]
        if not policies:
            return {}
        # As far back as the policies read (local reference days, recurring bursts), aligned to
        # the minute that every load period (a multiple of 60 s) divides.
        start = min(history_start(p, now) for p in policies).replace(second=0, microsecond=0)
        read = self._read([p.metric for p in policies[:_MAX_QUERIES_PER_CALL]], start, now)
        return {policy.name: points for policy, points in zip(policies, read, strict=False)}

    def _read(self, metrics: list[CustomMetric], start: datetime, end: datetime) -> list[list[Datapoint]]:
        """One GetMetricData call (and its pages) for ``metrics``; each series sorted oldest first."""
        queries: list[Any] = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": metric.namespace,
                        "MetricName": metric.metric_name,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(metric.dimensions.items())],
                    },
                    "Period": metric.period_s,
                    "Stat": metric.statistic.value,
                },
                "ReturnData": True,
            }
            for index, metric in enumerate(metrics)
        ]
        series: list[list[Datapoint]] = [[] for _ in metrics]
        paginator = self._cloudwatch.get_paginator("get_metric_data")
        pages = paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending")
        for page in pages:
            for result in page["MetricDataResults"]:
                pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                series[int(result["Id"][1:])].extend(Datapoint(timestamp=ts, value=value) for ts, value in pairs)
        for points in series:
            points.sort(key=lambda p: p.timestamp)
        return series

    def _alarms(self, target: TargetBase, known: dict[str, AlarmObservation]) -> dict[str, AlarmObservation]:
        names = sorted({p.alarm_name for p in target.policies if isinstance(p, StepScalingPolicy)})
        alarms = {name: known[name] for name in names if name in known}
        missing = [name for name in names if name not in alarms]
        if missing:
            response = self._cloudwatch.describe_alarms(AlarmNames=missing[:100], AlarmTypes=["MetricAlarm"])
            for alarm in response.get("MetricAlarms", []):
                alarms[alarm["AlarmName"]] = observation_from_alarm(alarm)
        return alarms


def observation_from_alarm(alarm: Any) -> AlarmObservation:
    """An AlarmObservation from a DescribeAlarms MetricAlarms entry.

    The comparison operator tells a step policy which side of the threshold breaches; anomaly-band
    operators (no static threshold) are left unknown.
    """
    value, at = _latest_from_reason_data(alarm.get("StateReasonData"))
    operator = alarm.get("ComparisonOperator")
    return AlarmObservation(
        name=alarm["AlarmName"],
        state=AlarmState(alarm["StateValue"]),
        threshold=alarm.get("Threshold"),
        value=value,
        timestamp=at or alarm.get("StateUpdatedTimestamp"),
        comparison=ComparisonOperator(operator) if operator in set(ComparisonOperator) else None,
    )


def _latest_from_reason_data(raw: str | None) -> tuple[float | None, datetime | None]:
    if not raw:
        return None, None
    try:
        data = json.loads(raw)
    except ValueError:
        return None, None
    evaluated = data.get("evaluatedDatapoints") or []
    with_values = [d for d in evaluated if isinstance(d, dict) and isinstance(d.get("value"), int | float)]
    if with_values:
        latest = max(with_values, key=lambda d: str(d.get("timestamp", "")))
        at = datetime.fromisoformat(latest["timestamp"].replace("Z", "+00:00")) if latest.get("timestamp") else None
        return float(latest["value"]), at
    recent = [v for v in data.get("recentDatapoints") or [] if isinstance(v, int | float)]
    return (float(recent[-1]), None) if recent else (None, None)
