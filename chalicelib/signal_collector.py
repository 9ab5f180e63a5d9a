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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.chunks import chunks
from chalicelib.engine.predictive import history_start
from chalicelib.engine.target_tracking import decided_by_newest
from chalicelib.metric_retention import oldest_readable
from chalicelib.metrics import resolve_metric
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.location import Location
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
_ALARMS_PER_CALL = 100  # DescribeAlarms: AlarmNames and MaxRecords at most 100

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
    # CloudWatch itself rounds a StartTime (10, 20 and 30 s periods divide the minute too).
    alignment = math.lcm(*periods) if math.lcm(*periods) == max(periods) else 60
    epoch_s = int(earliest.timestamp())
    return PlannedRead(datetime.fromtimestamp(epoch_s - epoch_s % alignment, tz=UTC), indexes)


# One series a policy reads: where, its metric and the StartTime of the call (the EndTime is the evaluation's now).
MetricRead = tuple[Location, MetricKey, datetime]
# One alarm a step policy reads: where, and its name.
AlarmRead = tuple[Location, str]
# One planned read of a target: the policy it is for, its metric, the call's StartTime.
_Planned = tuple[str, CustomMetric, datetime]


@dataclass(frozen=True)
class SharedSignals:
    """What a batch of evaluations at ``now`` read together (SignalCollector.read_together).

    A series or an alarm is exactly what the evaluation's own call would have returned: the same
    query, StartTime and EndTime. A failed call's error stands for every read it held, and is raised
    for each evaluation that needs one of them, as its own call would have raised it; an alarm AWS
    did not describe is None.
    """

    now: datetime
    series: dict[MetricRead, list[Datapoint] | ClientError | BotoCoreError]
    alarms: dict[AlarmRead, AlarmObservation | ClientError | BotoCoreError | None]


class SignalCollector:
    def __init__(self, cloudwatch: CloudWatchClient | Callable[[Location], CloudWatchClient]) -> None:
        """``cloudwatch``: the client of each account and Region (aws.cloudwatch), or one client for all."""
        self._clients: Callable[[Location], CloudWatchClient] = (
            cloudwatch if callable(cloudwatch) else (lambda _: cloudwatch)
        )

    def collect(
        self,
        target: TargetBase,
        reading: CapacityReading,
        now: datetime,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
        shared: SharedSignals | None = None,
    ) -> Signal:
        """``known_*``: what the triggering event already carries, so it is not read again; ``shared``:
        what this evaluation's batch read together (used only when read for this ``now``)."""
        together = shared if shared is not None and shared.now == now else None
        return Signal(
            current_capacity=reading.current,
            serving_capacity=reading.serving,
            metrics=self._metrics(target, now, known_metrics or {}, together),
            alarms=self._alarms(target, known_alarms, together),
            resource_bounds=reading.bounds,
            scale_in_suspended=reading.scale_in_suspended,
            history=self._history(target, now, together),
        )

    def read_together(
        self,
        targets: Sequence[TargetBase],
        now: datetime,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
    ) -> SharedSignals:
        """Every read ``collect`` would make for these targets at ``now``, in as few calls as CloudWatch
        allows: GetMetricData takes 500 queries per call (one call per StartTime: the targets of one
        tick share theirs), DescribeAlarms 100 names."""
        metrics: dict[MetricRead, CustomMetric] = {}
        alarm_names: set[AlarmRead] = set()
        for target in targets:
            where = target.location
            _, planned = self._plan_metrics(target, now, known_metrics or {})
            for _, metric, start in [*planned, *self._plan_history(target, now)]:
                metrics.setdefault((where, metric_key(metric), start), metric)
            names = _alarm_names(target)[:_ALARMS_PER_CALL]
            alarm_names.update((where, name) for name in names if name not in known_alarms)
        return SharedSignals(now=now, series=self._read_series(metrics, now), alarms=self._read_alarms(alarm_names))

    def _read_series(
        self, metrics: dict[MetricRead, CustomMetric], now: datetime
    ) -> dict[MetricRead, list[Datapoint] | ClientError | BotoCoreError]:
        """Each read's series, one GetMetricData call per place and StartTime (500 queries each)."""
        by_call: dict[tuple[Location, datetime], list[MetricRead]] = {}
        for read in metrics:
            by_call.setdefault((read[0], read[2]), []).append(read)
        series: dict[MetricRead, list[Datapoint] | ClientError | BotoCoreError] = {}
        for (where, start), reads in by_call.items():
            for chunk in chunks(reads, _MAX_QUERIES_PER_CALL):
                try:
                    points = self._read(where, [metrics[r] for r in chunk], start, now)
                    series.update(zip(chunk, points, strict=True))
                except (ClientError, BotoCoreError) as exc:
                    series.update(dict.fromkeys(chunk, exc))
        return series

    def _read_alarms(
        self, alarm_names: set[AlarmRead]
    ) -> dict[AlarmRead, AlarmObservation | ClientError | BotoCoreError | None]:
        """Each alarm, one DescribeAlarms call per place and 100 names; None for one AWS did not describe."""
        by_place: dict[Location, list[str]] = {}
        for where, name in alarm_names:
            by_place.setdefault(where, []).append(name)
        alarms: dict[AlarmRead, AlarmObservation | ClientError | BotoCoreError | None] = {}
        for where, all_names in by_place.items():
            for names in chunks(sorted(all_names), _ALARMS_PER_CALL):
                try:
                    described = self._describe_alarms(where, list(names))
                except (ClientError, BotoCoreError) as exc:
                    alarms.update(dict.fromkeys(((where, n) for n in names), exc))
                    continue
                alarms.update({(where, name): described.get(name) for name in names})
        return alarms

    # ---- target-tracking series ---------------------------------------------------------------
    def _metrics(
        self,
        target: TargetBase,
        now: datetime,
        known: dict[MetricKey, list[Datapoint]],
        shared: SharedSignals | None,
    ) -> dict[str, list[Datapoint]]:
        series, planned = self._plan_metrics(target, now, known)
        fetched = self._fetch(target.location, planned, now, shared)
        series.update(zip((name for name, _, _ in planned), fetched, strict=True))
        return series

    def _plan_metrics(
        self, target: TargetBase, now: datetime, known: dict[MetricKey, list[Datapoint]]
    ) -> tuple[dict[str, list[Datapoint]], list[_Planned]]:
        """The series the triggering event already decides, and the reads the other policies need."""
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
        starts: list[datetime] = [now] * len(unread)
        for planned in plan_reads([(metric.period_s, policy.lookback) for policy, metric in unread], now):
            for index in planned.indexes:
                starts[index] = planned.start
        return series, [(policy.name, metric, start) for (policy, metric), start in zip(unread, starts, strict=True)]

    # ---- predictive history --------------------------------------------------------------------
    def _history(self, target: TargetBase, now: datetime, shared: SharedSignals | None) -> dict[str, list[Datapoint]]:
        """Days of load per predictive policy, for its seasonal forecast."""
        planned = self._plan_history(target, now)
        fetched = self._fetch(target.location, planned, now, shared)
        return dict(zip((name for name, _, _ in planned), fetched, strict=True))

    @staticmethod
    def _plan_history(target: TargetBase, now: datetime) -> list[_Planned]:
        policies = [p for p in target.policies if isinstance(p, PredictivePolicy)][:_MAX_QUERIES_PER_CALL]
        if not policies:
            return []
        # As far back as the policies read (local reference days, recurring bursts), aligned to
        # the minute that every load period (a multiple of 60 s) divides.
        start = min(history_start(p, now) for p in policies).replace(second=0, microsecond=0)
        return [(policy.name, policy.metric, start) for policy in policies]

    # ---- GetMetricData ---------------------------------------------------------------------------
    def _fetch(
        self, where: Location, planned: Sequence[_Planned], now: datetime, shared: SharedSignals | None
    ) -> list[list[Datapoint]]:
        """Each planned read's series: from ``shared`` when it holds it, else one call per StartTime."""
        fetched: list[list[Datapoint]] = [[] for _ in planned]
        unshared: dict[datetime, list[int]] = {}
        for index, (_, metric, start) in enumerate(planned):
            found = shared.series.get((where, metric_key(metric), start)) if shared is not None else None
            if isinstance(found, ClientError | BotoCoreError):
                raise found
            if found is None:
                unshared.setdefault(start, []).append(index)
            else:
                fetched[index] = list(found)
        for start, indexes in unshared.items():
            points = self._read(where, [planned[i][1] for i in indexes], start, now)
            for index, found_points in zip(indexes, points, strict=True):
                fetched[index] = found_points
        return fetched

    def _read(
        self, where: Location, metrics: list[CustomMetric], start: datetime, end: datetime
    ) -> list[list[Datapoint]]:
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
        paginator = self._clients(where).get_paginator("get_metric_data")
        pages = paginator.paginate(MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending")
        for page in pages:
            for result in page["MetricDataResults"]:
                pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                series[int(result["Id"][1:])].extend(Datapoint(timestamp=ts, value=value) for ts, value in pairs)
        for points in series:
            points.sort(key=lambda p: p.timestamp)
        return series

    # ---- step-policy alarms ------------------------------------------------------------------------
    def _alarms(
        self, target: TargetBase, known: dict[str, AlarmObservation], shared: SharedSignals | None
    ) -> dict[str, AlarmObservation]:
        names = _alarm_names(target)
        alarms = {name: known[name] for name in names if name in known}
        missing = [name for name in names if name not in alarms][:_ALARMS_PER_CALL]
        where = target.location
        if shared is not None:
            unshared = []
            for name in missing:
                if (where, name) not in shared.alarms:
                    unshared.append(name)
                    continue
                found = shared.alarms[(where, name)]
                if isinstance(found, ClientError | BotoCoreError):
                    raise found
                if found is not None:
                    alarms[name] = found
            missing = unshared
        if missing:
            alarms.update(self._describe_alarms(where, missing))
        return alarms

    def _describe_alarms(self, where: Location, names: list[str]) -> dict[str, AlarmObservation]:
        """The metric alarms of these names (at most 100: one call, MaxRecords 100) that exist."""
        response = self._clients(where).describe_alarms(
            AlarmNames=names, AlarmTypes=["MetricAlarm"], MaxRecords=_ALARMS_PER_CALL
        )
        return {alarm["AlarmName"]: observation_from_alarm(alarm) for alarm in response.get("MetricAlarms", [])}


def _alarm_names(target: TargetBase) -> list[str]:
    return sorted({p.alarm_name for p in target.policies if isinstance(p, StepScalingPolicy)})


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
