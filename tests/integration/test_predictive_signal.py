"""The predictive policy's history comes from CloudWatch in one extra GetMetricData call, and
targets without a predictive policy make no extra call (the embedded AWS is moto on 127.0.0.1)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.engine import decide
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.decisions import Action
from chalicelib.models.signals import TargetHistory
from chalicelib.models.targets import AsgTarget, CustomMetric, PredictivePolicy, Statistic, TargetTrackingPolicy
from chalicelib.signal_collector import SignalCollector
from marea_local.embedded_aws import EmbeddedAws
from tests.integration.world import minute_floor

REQUESTS = CustomMetric(
    namespace="App/Web", metric_name="RequestCount", dimensions={"Service": "web"}, statistic=Statistic.SUM
)


def publish_requests(cloudwatch: Any, values: list[float], end: datetime) -> None:
    """One datapoint a minute, the last in the minute before ``end``."""
    start = end - timedelta(minutes=len(values))
    for first in range(0, len(values), 500):
        cloudwatch.put_metric_data(
            Namespace=REQUESTS.namespace,
            MetricData=[
                {
                    "MetricName": REQUESTS.metric_name,
                    "Dimensions": [{"Name": "Service", "Value": "web"}],
                    "Timestamp": start + timedelta(minutes=i),
                    "Value": value,
                    "Unit": "Count",
                }
                for i, value in enumerate(values[first : first + 500], start=first)
            ],
        )


def counting(cloudwatch: Any) -> Counter[str]:
    calls: Counter[str] = Counter()
    cloudwatch.meta.events.register("before-call.cloudwatch.*", lambda model, **_: calls.update([model.name]))
    return calls


def target(*policies: Any) -> AsgTarget:
    return AsgTarget(id="web", asg_name="web", min=1, max=100, policies=list(policies))


def test_given_a_predictive_target_when_collecting_then_its_history_is_read_in_one_call(
    embedded_aws: EmbeddedAws, clients: dict[str, Any]
) -> None:
    embedded_aws.reset()
    cloudwatch = clients["cloudwatch"]
    now = minute_floor(datetime.now(UTC))
    publish_requests(cloudwatch, [40.0] * 90 + [400.0] * 30, now)
    calls = counting(cloudwatch)
    predictive = PredictivePolicy(name="requests", metric=REQUESTS, unit_capacity=10, lead_s=240)

    signal = SignalCollector(cloudwatch).collect(target(predictive), CapacityReading(current=6), now, {})

    points = signal.history["requests"]
    assert len(points) == 120
    assert [p.timestamp for p in points] == sorted(p.timestamp for p in points)
    assert points[-1].value == 400.0
    assert calls == Counter({"GetMetricData": 1})
    assert "history" not in signal.model_dump(mode="json")
    result = decide(target(predictive), signal, TargetHistory(), now)
    assert (result.action, result.final) == (Action.OUT, 58)  # 400 a minute at 70 % of 10 per unit


def test_given_no_predictive_policy_when_collecting_then_no_history_call_is_made(
    embedded_aws: EmbeddedAws, clients: dict[str, Any]
) -> None:
    embedded_aws.reset()
    cloudwatch = clients["cloudwatch"]
    calls = counting(cloudwatch)
    tracking = TargetTrackingPolicy(name="rps", metric=REQUESTS, target_value=100)

    signal = SignalCollector(cloudwatch).collect(target(tracking), CapacityReading(current=2), datetime.now(UTC), {})

    assert signal.history == {}
    assert calls == Counter({"GetMetricData": 1})


def publish_at(cloudwatch: Any, at: datetime, value: float) -> None:
    cloudwatch.put_metric_data(
        Namespace=REQUESTS.namespace,
        MetricData=[
            {
                "MetricName": REQUESTS.metric_name,
                "Dimensions": [{"Name": "Service", "Value": "web"}],
                "Timestamp": at,
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def test_given_a_dst_change_within_two_weeks_when_collecting_then_the_reference_days_windows_are_read(
    embedded_aws: EmbeddedAws, clients: dict[str, Any]
) -> None:
    """08:00 in Madrid two weeks before 6 November 2025 (CET) was CEST: 06:00 UTC, an hour further
    back than now - 14 days. The hour before it is the reference day's peak window."""
    embedded_aws.reset()
    cloudwatch = clients["cloudwatch"]
    now = datetime(2025, 11, 6, 7, 0, tzinfo=UTC)  # 08:00 CET
    reference = datetime(2025, 10, 23, 6, 0, tzinfo=UTC)  # 08:00 CEST, 14 local days before
    publish_at(cloudwatch, reference - timedelta(minutes=50), 123.0)
    predictive = PredictivePolicy(name="requests", metric=REQUESTS, unit_capacity=10, timezone="Europe/Madrid")

    signal = SignalCollector(cloudwatch).collect(target(predictive), CapacityReading(current=6), now, {})

    assert [p.value for p in signal.history["requests"]] == [123.0]


def test_given_no_history_days_when_collecting_then_the_last_hours_for_recurring_bursts_are_read(
    embedded_aws: EmbeddedAws, clients: dict[str, Any]
) -> None:
    """Recurring bursts are learnt from the last 4 hours, even when no reference day is read."""
    embedded_aws.reset()
    cloudwatch = clients["cloudwatch"]
    now = minute_floor(datetime.now(UTC))
    publish_at(cloudwatch, now - timedelta(hours=3, minutes=50), 77.0)
    predictive = PredictivePolicy(name="requests", metric=REQUESTS, unit_capacity=10, history_days=0)

    signal = SignalCollector(cloudwatch).collect(target(predictive), CapacityReading(current=6), now, {})

    assert [p.value for p in signal.history["requests"]] == [77.0]
