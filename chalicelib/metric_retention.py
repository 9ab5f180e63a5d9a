"""How far back GetMetricData returns datapoints of a given period (pure; docs/aws-semantics.md,
"Alarm windows and how far back Marea reads").

CloudWatch API reference, MetricStat.Period: when StartTime is more than 3 hours ago the period
must be a multiple of 60 s (StartTime up to 15 days ago), of 300 s (up to 63 days) or of 3600 s
(beyond), "or no data points in that time range is returned"; GetMetricData keeps 1-hour data for
455 days. A query whose StartTime is older than its period allows returns nothing at all, so it
is not enough for the newest datapoints to be young: the whole read must stay within this age.
"""

from __future__ import annotations

from datetime import timedelta

# (period divisor, oldest readable StartTime), longest first.
_RETENTION = (
    (3600, timedelta(days=455)),
    (300, timedelta(days=63)),
    (60, timedelta(days=15)),
)
# High-resolution periods (below 60 s: 10, 20 or 30): CloudWatch keeps them 3 hours.
HIGH_RESOLUTION_RETENTION = timedelta(hours=3)


def oldest_readable(period_s: int) -> timedelta:
    """The oldest StartTime (as an age) from which a query with this period still returns data."""
    for divisor, kept in _RETENTION:
        if period_s % divisor == 0:
            return kept
    return HIGH_RESOLUTION_RETENTION


def describe_age(age: timedelta) -> str:
    """'3 h', '15 d': how error messages state a retention."""
    seconds = int(age.total_seconds())
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400} d"
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"
