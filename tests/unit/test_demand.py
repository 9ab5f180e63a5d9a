"""A target's demand: which metric counts its requests, and its datapoints one a minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.demand import demand_metric, describe_metrics, per_minute, read_datapoints
from chalicelib.models.targets import (
    AsgTarget,
    CustomMetric,
    PredefinedMetric,
    PredefinedMetricType,
    PredictivePolicy,
    Statistic,
    TargetTrackingPolicy,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
REQUESTS = CustomMetric(namespace="App/Web", metric_name="RequestCount", statistic=Statistic.SUM, period_s=300)
CPU = PredefinedMetric(predefined=PredefinedMetricType.ASG_AVERAGE_CPU)


@pytest.fixture
def offline_cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A client that never sends: a Stubber answers each call (no address is reached)."""
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    return boto3.client("cloudwatch", region_name="us-east-1")


def target(*policies: Any) -> AsgTarget:
    return AsgTarget(id="web", asg_name="web", min=1, max=10, policies=list(policies))


def tracking(name: str, metric: CustomMetric | PredefinedMetric) -> TargetTrackingPolicy:
    return TargetTrackingPolicy(name=name, metric=metric, target_value=50)


def test_given_a_predictive_policy_on_a_sum_then_its_metric_read_per_minute_is_the_demand() -> None:
    predictive = PredictivePolicy(name="load", metric=REQUESTS, unit_capacity=500)

    metric = demand_metric(target(tracking("cpu", CPU), predictive))

    assert metric == REQUESTS.model_copy(update={"period_s": 60})


def test_given_alb_request_count_per_target_then_the_target_groups_request_count_is_the_demand() -> None:
    label = "app/web-lb/50dc6c495c0c9188/targetgroup/web-tg/73e2d6bc24d8a067"
    policy = tracking(
        "rpt", PredefinedMetric(predefined=PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET, resource_label=label)
    )

    metric = demand_metric(target(policy))

    assert metric == CustomMetric(
        namespace="AWS/ApplicationELB",
        metric_name="RequestCount",
        dimensions={
            "LoadBalancer": "app/web-lb/50dc6c495c0c9188",
            "TargetGroup": "targetgroup/web-tg/73e2d6bc24d8a067",
        },
        statistic=Statistic.SUM,
        period_s=60,
    )


def test_given_a_custom_request_count_per_target_with_both_dimensions_then_its_request_count_is_the_demand() -> None:
    dimensions = {"LoadBalancer": "app/lb/1", "TargetGroup": "targetgroup/tg/2"}
    per_target = CustomMetric(
        namespace="AWS/ApplicationELB", metric_name="RequestCountPerTarget", dimensions=dimensions, statistic="Sum"
    )
    only_group = per_target.model_copy(update={"dimensions": {"TargetGroup": "targetgroup/tg/2"}})

    assert demand_metric(target(tracking("rpt", per_target))) == CustomMetric(
        namespace="AWS/ApplicationELB", metric_name="RequestCount", dimensions=dimensions, statistic="Sum"
    )
    # RequestCount is published per target group only together with its load balancer.
    assert demand_metric(target(tracking("rpt", only_group))) is None


def test_given_only_utilization_metrics_then_there_is_no_demand_and_the_error_names_what_is_read() -> None:
    averaged = PredictivePolicy(
        name="avg", metric=REQUESTS.model_copy(update={"statistic": Statistic.AVERAGE}), unit_capacity=5
    )
    subject = target(tracking("cpu", CPU), averaged)

    assert demand_metric(subject) is None
    assert describe_metrics(subject) == "ASGAverageCPUUtilization, RequestCount"
    assert describe_metrics(target()) == "no metric"


def test_given_gaps_between_datapoints_then_each_missing_minute_is_zero_requests() -> None:
    points = [(T0, 10.0), (T0 + 1 * MINUTE, 12.0), (T0 + 4 * MINUTE, 7.0)]

    demand = per_minute(points)

    assert demand is not None
    assert demand.requests == (10.0, 12.0, 0.0, 0.0, 7.0)
    assert (demand.start, demand.last_minute, demand.missing_minutes) == (T0, T0 + 4 * MINUTE, 2)


def test_given_no_datapoints_then_there_is_no_demand() -> None:
    assert per_minute([]) is None


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
def test_given_a_value_no_request_count_can_have_then_it_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="not a request count"):
        per_minute([(T0, 1.0), (T0 + MINUTE, value)])


def test_given_a_result_in_pages_then_every_page_is_read_with_one_query_at_one_minute(offline_cloudwatch: Any) -> None:
    """botocore's Stubber stands in for CloudWatch here: moto's GetMetricData never pages (no NextToken)."""
    client = offline_cloudwatch
    start, end = T0, T0 + 10 * MINUTE
    expected = {
        "MetricDataQueries": [
            {
                "Id": "demand",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "App/Web",
                        "MetricName": "RequestCount",
                        "Dimensions": [{"Name": "Service", "Value": "web"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
        ],
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [{"Id": "demand", "Timestamps": [T0, T0 + MINUTE], "Values": [3.0, 4.0]}],
                "NextToken": "page-2",
            },
            expected,
        )
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "demand", "Timestamps": [T0 + 2 * MINUTE], "Values": [5.0]}]},
            {**expected, "NextToken": "page-2"},
        )
        metric = CustomMetric(
            namespace="App/Web", metric_name="RequestCount", dimensions={"Service": "web"}, statistic="Sum"
        )

        points = read_datapoints(client, metric, start, end)

        stub.assert_no_pending_responses()
    assert points == [(T0, 3.0), (T0 + MINUTE, 4.0), (T0 + 2 * MINUTE, 5.0)]


def test_given_datapoints_outside_the_window_then_they_are_dropped_and_the_rest_sorted(offline_cloudwatch: Any) -> None:
    """A Stubber again (moto filters by time itself): the window is enforced on our side too."""
    client = offline_cloudwatch
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {
                        "Id": "demand",
                        "Timestamps": [T0 + 2 * MINUTE, T0 - MINUTE, T0, T0 + 3 * MINUTE],
                        "Values": [2.0, 9.0, 1.0, 9.0],
                    }
                ]
            },
        )

        points = read_datapoints(client, REQUESTS, T0, T0 + 3 * MINUTE)

    assert points == [(T0, 1.0), (T0 + 2 * MINUTE, 2.0)]
