"""Read the datapoints of many alarms with as few GetMetricData calls as possible.

One query per alarm (its metric, period, statistic and unit), up to 500 queries a call, one time
window covering the longest evaluation range (one per period when a shared window would start
earlier than CloudWatch keeps some alarm's period). StartTime sits on a multiple of every period
so each returned timestamp is a period boundary, which is what the evaluator expects.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from chalicelib.alarm_evaluation import AlarmDefinition, evaluation_range
from chalicelib.metric_retention import oldest_readable

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.literals import StandardUnitType
    from mypy_boto3_cloudwatch.type_defs import GetMetricDataInputTypeDef, MetricDataQueryTypeDef

# GetMetricData API reference: "You can include up to 500 MetricDataQuery structures".
MAX_QUERIES_PER_CALL = 500
# Periods whose least common multiple exceeds a day (e.g. 7 and 11 minutes) would make the shared
# window needlessly long; such alarms are fetched in one window per period instead.
MAX_SHARED_ALIGNMENT_S = 86_400

Datapoints = list[tuple[datetime, float]]


@dataclass(frozen=True)
class FetchWindow:
    """One GetMetricData request (before pagination): a time window and the alarms it reads."""

    start: datetime
    end: datetime
    definitions: tuple[AlarmDefinition, ...]


def plan_windows(definitions: Sequence[AlarmDefinition], now: datetime) -> list[FetchWindow]:
    """The requests that read every alarm's evaluation range at ``now``."""
    if not definitions:
        return []
    periods = sorted({definition.period_s for definition in definitions})
    per_period = [[d for d in definitions if d.period_s == period] for period in periods]
    shared = list(definitions)
    if math.lcm(*periods) <= MAX_SHARED_ALIGNMENT_S and _readable(shared, _start(shared, now), now):
        groups = [shared]
    else:
        groups = per_period
    # moto ignores sub-second parts; whole seconds keep StartTime < EndTime everywhere.
    end = now.replace(microsecond=0)
    windows: list[FetchWindow] = []
    for group in groups:
        start = _start(group, now)
        windows.extend(FetchWindow(start, end, tuple(chunk)) for chunk in _chunks(group, MAX_QUERIES_PER_CALL))
    return windows


def _start(group: Sequence[AlarmDefinition], now: datetime) -> datetime:
    alignment = math.lcm(*{definition.period_s for definition in group})
    return _floor(min(evaluation_range(definition, now)[0] for definition in group), alignment)


def _readable(group: Sequence[AlarmDefinition], start: datetime, now: datetime) -> bool:
    """Whether CloudWatch returns every query of ``group`` from ``start``: a query whose period is not
    kept that long returns nothing at all (MetricStat.Period, CloudWatch API reference)."""
    return all(now - start <= oldest_readable(definition.period_s) for definition in group)


def metric_query(query_id: str, definition: AlarmDefinition) -> MetricDataQueryTypeDef:
    """The MetricStat query that returns exactly the series CloudWatch evaluates for the alarm."""
    query: MetricDataQueryTypeDef = {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": definition.namespace,
                "MetricName": definition.metric_name,
                "Dimensions": [{"Name": name, "Value": value} for name, value in sorted(definition.dimensions.items())],
            },
            "Period": definition.period_s,
            "Stat": definition.statistic,
        },
        "ReturnData": True,
    }
    if definition.unit:
        # The unit came from DescribeAlarms, which only reports StandardUnit values.
        query["MetricStat"]["Unit"] = cast("StandardUnitType", definition.unit)
    return query


def fetch_datapoints(
    cloudwatch: CloudWatchClient, definitions: Sequence[AlarmDefinition], now: datetime
) -> dict[str, Datapoints]:
    """Datapoints per alarm name, oldest first, one per period that has data."""
    found: dict[str, Datapoints] = {definition.name: [] for definition in definitions}
    for window in plan_windows(definitions, now):
        # Query ids must start with a lower-case letter; alarm names may not, so map them.
        by_id = {f"q{index}": definition for index, definition in enumerate(window.definitions)}
        request: GetMetricDataInputTypeDef = {
            "MetricDataQueries": [metric_query(query_id, d) for query_id, d in by_id.items()],
            "StartTime": window.start,
            "EndTime": window.end,
            "ScanBy": "TimestampAscending",
        }
        while True:
            response = cloudwatch.get_metric_data(**request)
            for result in response["MetricDataResults"]:
                series = found[by_id[result["Id"]].name]
                series.extend(zip(result.get("Timestamps", []), result.get("Values", []), strict=True))
            token = response.get("NextToken")
            if not token:
                break
            request["NextToken"] = token
    return {name: sorted(series, key=lambda point: point[0]) for name, series in found.items()}


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch_s = int(moment.timestamp())
    return datetime.fromtimestamp(epoch_s - epoch_s % seconds, tz=UTC)


def _chunks(items: list[AlarmDefinition], size: int) -> Iterator[list[AlarmDefinition]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]
