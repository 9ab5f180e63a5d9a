"""How the pump batches its GetMetricData calls (pure planning plus result mapping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.alarm_evaluation import AlarmDefinition, ComparisonOperator
from marea_local.metric_data import MAX_QUERIES_PER_CALL, fetch_datapoints, metric_query, plan_windows

NOW = datetime(2026, 11, 24, 10, 5, 30, 250000, tzinfo=UTC)


def alarm(name: str, period_s: int = 60, evaluation_periods: int = 3) -> AlarmDefinition:
    return AlarmDefinition(
        name=name,
        arn=f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        namespace="Marea/Test",
        metric_name="Load",
        dimensions={"Service": name},
        statistic="Maximum",
        period_s=period_s,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=evaluation_periods,
        threshold=1.0,
        comparison_operator=ComparisonOperator.GREATER_THAN,
    )


def test_one_window_covers_the_longest_range_and_is_aligned_to_every_period() -> None:
    # 5 + 2 periods of 5 minutes reach back to 09:30; 1-hour alignment (lcm 60, 300, 3600) gives 09:00.
    alarms = [
        alarm("a"),
        alarm("b", period_s=300, evaluation_periods=5),
        alarm("c", period_s=3600, evaluation_periods=1),
    ]

    windows = plan_windows(alarms, NOW)

    assert [(w.start, w.end, len(w.definitions)) for w in windows] == [
        (datetime(2026, 11, 24, 7, 0, tzinfo=UTC), NOW.replace(microsecond=0), 3)
    ]


def test_queries_are_batched_500_to_a_call() -> None:
    alarms = [alarm(f"a{index}") for index in range(MAX_QUERIES_PER_CALL * 2 + 1)]

    windows = plan_windows(alarms, NOW)

    assert [len(w.definitions) for w in windows] == [500, 500, 1]
    assert len({(w.start, w.end) for w in windows}) == 1


def test_periods_without_a_short_common_multiple_get_a_window_each() -> None:
    # 58 and 59 minutes only meet every 3422 minutes: sharing one aligned window would read days.
    windows = plan_windows([alarm("59m", period_s=3540), alarm("58m", period_s=3480)], NOW)

    assert [(w.definitions[0].name, int(w.start.timestamp()) % w.definitions[0].period_s) for w in windows] == [
        ("58m", 0),
        ("59m", 0),
    ]
    assert all(NOW - w.start < timedelta(hours=6) for w in windows)


def test_no_alarms_no_calls() -> None:
    assert plan_windows([], NOW) == []


def test_metric_query_is_the_alarm_s_series() -> None:
    assert metric_query("q0", alarm("api")) == {
        "Id": "q0",
        "MetricStat": {
            "Metric": {
                "Namespace": "Marea/Test",
                "MetricName": "Load",
                "Dimensions": [{"Name": "Service", "Value": "api"}],
            },
            "Period": 60,
            "Stat": "Maximum",
        },
        "ReturnData": True,
    }


class PagingCloudWatch:
    """Stands in for the CloudWatch client to return a paginated GetMetricData answer, which moto
    never does (it ignores MaxDatapoints and never sends a NextToken)."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.requests: list[dict[str, Any]] = []

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.requests.append(dict(request))
        return self.pages[len(self.requests) - 1]


def test_pages_are_followed_and_series_mapped_back_to_alarm_names() -> None:
    minute = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    pages: list[dict[str, Any]] = [
        {
            "MetricDataResults": [{"Id": "q0", "Timestamps": [minute + timedelta(minutes=1)], "Values": [2.0]}],
            "NextToken": "page-2",
        },
        {
            "MetricDataResults": [
                {"Id": "q0", "Timestamps": [minute], "Values": [1.0]},
                {"Id": "q1", "Timestamps": [], "Values": []},
            ]
        },
    ]
    client = PagingCloudWatch(pages)

    found = fetch_datapoints(client, [alarm("Api-Latency"), alarm("idle")], NOW)  # type: ignore[arg-type]

    assert found == {"Api-Latency": [(minute, 1.0), (minute + timedelta(minutes=1), 2.0)], "idle": []}
    assert "NextToken" not in client.requests[0]
    assert client.requests[1]["NextToken"] == "page-2"
    assert [q["Id"] for q in client.requests[0]["MetricDataQueries"]] == ["q0", "q1"]


def test_a_high_resolution_alarm_beside_a_day_long_one_gets_a_window_within_3_hours() -> None:
    """CloudWatch returns nothing for a 10 s query whose StartTime is more than 3 hours ago
    (MetricStat.Period, CloudWatch API reference): a shared 26-hour window would blind it."""
    windows = plan_windows([alarm("fast", period_s=10), alarm("daily", period_s=3600, evaluation_periods=24)], NOW)

    by_alarm = {w.definitions[0].name: w for w in windows}
    assert [len(w.definitions) for w in windows] == [1, 1]
    assert NOW - by_alarm["fast"].start <= timedelta(hours=3)
    assert by_alarm["daily"].start == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
