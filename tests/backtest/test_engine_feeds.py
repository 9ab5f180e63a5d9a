"""What a replayed Marea target's policies read: utilization, requests per unit, or the request count per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.backtest import World, run_backtest, trace_from_rates
from chalicelib.backtest.periods import PeriodDatapoints
from chalicelib.backtest.world_metrics import Reading, reading_of
from chalicelib.models.targets import (
    CustomMetric,
    PredefinedMetric,
    PredefinedMetricType,
    PredictivePolicy,
    Statistic,
    TargetBase,
    TargetTrackingPolicy,
)
from tests.backtest.factories import step_trace

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
WORLD = World(kind="ec2", unit_capacity=10.0, start=T0)
PER_TARGET = PredefinedMetric(
    predefined=PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET, resource_label="app/lb/1/targetgroup/tg/2"
)


def tracking(metric: CustomMetric | PredefinedMetric, target_value: float) -> TargetTrackingPolicy:
    return TargetTrackingPolicy(name="tt", metric=metric, target_value=target_value)


def test_only_the_albs_request_count_per_target_is_read_as_requests_per_unit() -> None:
    custom = CustomMetric(namespace="AWS/ApplicationELB", metric_name="RequestCountPerTarget", statistic=Statistic.SUM)
    cpu = PredefinedMetric(predefined=PredefinedMetricType.ASG_AVERAGE_CPU)

    assert reading_of(tracking(PER_TARGET, 100).metric) is Reading.PER_UNIT
    assert reading_of(tracking(custom, 100).metric) is Reading.PER_UNIT
    assert reading_of(tracking(cpu, 60).metric) is not Reading.PER_UNIT
    assert reading_of(tracking(custom.model_copy(update={"namespace": "App"}), 60).metric) is not Reading.PER_UNIT


def test_a_gauge_averaged_over_the_units_is_the_load_per_unit_and_a_sum_is_the_total() -> None:
    connections = CustomMetric(namespace="Marea/Chat", metric_name="ConnectedClients", dimensions={"ServiceName": "c"})
    memory = CustomMetric(namespace="AWS/ECS", metric_name="MemoryUtilization")

    assert reading_of(connections) is Reading.PER_UNIT
    assert reading_of(connections.model_copy(update={"statistic": Statistic.SUM})) is Reading.TOTAL
    assert reading_of(memory) is Reading.UTILIZATION
    assert (
        reading_of(PredefinedMetric(predefined=PredefinedMetricType.ECS_SERVICE_AVERAGE_MEMORY)) is Reading.UTILIZATION
    )


def test_given_a_connections_per_task_policy_when_replaying_then_it_follows_the_load_per_unit() -> None:
    """Connections per task are not a percent: a target of 5 per task means 5 of each unit's 10."""
    per_task = CustomMetric(namespace="Marea/Chat", metric_name="ConnectedClients")
    target = TargetBase(id="chat", min=1, max=100, policies=[tracking(per_task, target_value=5)])
    trace = step_trace(low=10, high=30, step_at=30, minutes=60)

    result = run_backtest(trace, target, WORLD)

    # As requests per target: 15 per unit on 2 units is ceil(2 x 15 / 5) = 6 units, not 60 (150 % read as 150).
    assert result.desired[:33] == (2,) * 33
    assert result.desired[33] == 6


def test_given_a_request_count_per_target_policy_when_replaying_then_it_follows_requests_per_unit() -> None:
    target = TargetBase(id="web", min=1, max=100, policies=[tracking(PER_TARGET, target_value=5)])
    # 10 requests a minute start on 2 units (at 70 % of 10 each): 5 per unit, on target. Then 30: 15 per unit.
    trace = step_trace(low=10, high=30, step_at=30, minutes=60)

    result = run_backtest(trace, target, WORLD)

    assert result.desired[:33] == (2,) * 33
    # Three datapoints above 5 (minutes 30-32, seen from minute 33): ceil(2 x 15 / 5) = 6, not the
    # ceil(2 x 150 % / 5) = 60 that utilization read as requests would give.
    assert result.desired[33] == 6


def test_given_a_predictive_policy_on_5_minute_periods_then_it_reads_5_minute_sums() -> None:
    five_minutes = CustomMetric(namespace="App", metric_name="Requests", statistic=Statistic.SUM, period_s=300)
    policy = PredictivePolicy(name="load", metric=five_minutes, unit_capacity=50, lead_s=240)  # 10 a minute
    target = TargetBase(id="web", min=1, max=100, policies=[policy], scale_in_stabilization_s=0)

    result = run_backtest(trace_from_rates("flat", [100.0] * 240), target, WORLD)

    # 500 requests per 5 minutes at 70 % of 50 per unit: 15 units, as 100 a minute at 70 % of 10 needs.
    assert result.desired[-1] == 15


def test_given_1_minute_periods_then_every_minute_with_a_value_is_a_datapoint() -> None:
    sums = PeriodDatapoints(60, T0)

    for minute, value in enumerate([3.0, None, 5.0]):
        sums.add(minute, value)

    assert [(p.timestamp, p.value) for p in sums.series] == [(T0, 3.0), (T0 + 2 * MINUTE, 5.0)]
    assert sums.series.float_values == [3.0, 5.0]


def test_given_5_minute_periods_then_minutes_are_summed_into_clock_aligned_periods() -> None:
    sums = PeriodDatapoints(300, T0 + 2 * MINUTE)  # minute 0 is 00:02: the first period (00:00) is seen in part

    for minute in range(13):
        sums.add(minute, None if 4 <= minute < 8 else 1.0)

    # 00:00 (minutes 0-2), 00:05 (minutes 3-7, only 3 has a value), 00:10 (minutes 8-12).
    assert [(p.timestamp, p.value) for p in sums.series] == [
        (T0, 3.0),
        (T0 + 5 * MINUTE, 1.0),
        (T0 + 10 * MINUTE, 5.0),
    ]


def test_given_a_period_without_any_value_then_it_has_no_datapoint() -> None:
    sums = PeriodDatapoints(120, T0)

    for minute, value in enumerate([None, None, 4.0, 4.0]):
        sums.add(minute, value)

    assert [(p.timestamp, p.value) for p in sums.series] == [(T0 + 2 * MINUTE, 8.0)]


def test_given_a_scale_out_window_longer_than_20_datapoints_when_replaying_then_it_is_shown_in_full() -> None:
    """The replay shows each policy its longest window, as the Lambda reads it (issue #12, item 3)."""
    cpu = PredefinedMetric(predefined=PredefinedMetricType.ASG_AVERAGE_CPU)
    policy = TargetTrackingPolicy(name="tt", metric=cpu, target_value=60, scale_out_datapoints=30)
    target = TargetBase(id="web", min=1, max=100, policies=[policy])
    trace = step_trace(low=10, high=30, step_at=10, minutes=60)

    result = run_backtest(trace, target, WORLD)

    assert result.desired[-1] > result.desired[0]  # 30 minutes above target: it scales out
