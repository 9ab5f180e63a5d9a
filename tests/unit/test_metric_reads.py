"""How the signal collector splits its GetMetricData reads (plan_reads, pure).

docs/aws-semantics.md, "Alarm windows and how far back Marea reads": one call for every
target-tracking policy, unless its StartTime would be older than CloudWatch keeps some query's
period, in which case that query would return nothing at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.models.targets import CustomMetric, TargetTrackingPolicy
from chalicelib.signal_collector import plan_reads

NOW = datetime(2026, 3, 2, 10, 7, 42, tzinfo=UTC)


def test_given_windows_of_several_periods_then_one_call_reaches_the_longest_aligned_to_the_periods() -> None:
    [read] = plan_reads([(60, timedelta(minutes=18)), (300, timedelta(minutes=90))], NOW)

    assert read.indexes == (0, 1)
    assert read.start == datetime(2026, 3, 2, 8, 35, tzinfo=UTC)  # 08:37:42 floored to 5 minutes
    assert NOW - read.start >= timedelta(minutes=90)


def test_given_periods_that_do_not_divide_each_other_then_the_start_is_on_the_minute() -> None:
    [read] = plan_reads([(120, timedelta(minutes=10)), (300, timedelta(minutes=10))], NOW)
    assert read.start == datetime(2026, 3, 2, 9, 57, tzinfo=UTC)


def test_given_a_high_resolution_metric_beside_a_day_long_window_then_each_period_has_its_own_call() -> None:
    reads = plan_reads([(10, timedelta(minutes=5)), (3600, timedelta(hours=30)), (10, timedelta(minutes=20))], NOW)

    assert [read.indexes for read in reads] == [(0, 2), (1,)]
    assert NOW - reads[0].start <= timedelta(hours=3)  # CloudWatch keeps 10 s data 3 hours
    assert reads[0].start == datetime(2026, 3, 2, 9, 47, 40, tzinfo=UTC)
    assert reads[1].start == datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


def test_given_no_query_then_no_call() -> None:
    assert plan_reads([], NOW) == []


def test_a_policy_is_read_back_over_its_longest_window_and_the_stale_allowance() -> None:
    metric = CustomMetric(namespace="App", metric_name="Queue", period_s=300)
    policy = TargetTrackingPolicy(name="q", metric=metric, target_value=5, scale_out_datapoints=20)
    assert policy.lookback == timedelta(minutes=5 * (20 + 3))


def test_a_short_window_is_still_read_back_20_periods_so_that_a_stopped_metric_is_seen_as_stale() -> None:
    metric = CustomMetric(namespace="App", metric_name="Queue", period_s=60)
    policy = TargetTrackingPolicy(
        name="q", metric=metric, target_value=5, scale_out_datapoints=2, scale_in_datapoints=3
    )
    assert policy.lookback == timedelta(minutes=20)
