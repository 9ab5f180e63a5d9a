"""Evaluations read together decide as they would alone, in as few AWS calls as each API allows.

A fleet of every kind of read (Auto Scaling groups, ECS services in two clusters, a step policy's
alarm, a predictive policy's history, a group that no longer exists) is built twice on a fresh
embedded AWS at one fixed instant: once each target is evaluated alone, once all together
(triggers.evaluate_together). The decisions must match in everything but their random ids; the
calls must drop to one describe per 100 groups or 10 services of a cluster and one GetMetricData.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, triggers, wiring
from chalicelib.models.decisions import Decision, Trigger, TriggerType
from chalicelib.models.state import StoredTarget
from chalicelib.store.items import TARGET_ADAPTER
from marea_local.data_stack import DataStack, create_data_stack
from marea_local.demo_resources import put_alarm
from tests.integration.world import asg_target, make_asg, make_service, minute_floor, publish_cpu

NOW = minute_floor(datetime.now(UTC)) + timedelta(seconds=20)
REQUESTS = {"Namespace": "Web", "MetricName": "Requests", "Dimensions": [{"Name": "Site", "Value": "shop"}]}


def _connections(service: str, cluster: str) -> dict[str, Any]:
    return {
        "type": "custom",
        "namespace": "Marea/Chat",
        "metric_name": "ConnectedClients",
        "dimensions": {"ClusterName": cluster, "ServiceName": service},
        "statistic": "Average",
    }


def _ecs_target(service: str, cluster: str) -> dict[str, Any]:
    return {
        "kind": "ecs",
        "cluster": cluster,
        "service": service,
        "min": 1,
        "max": 20,
        "mode": "act",
        "policies": [
            {
                "type": "target_tracking",
                "name": "connections",
                "metric": _connections(service, cluster),
                "target_value": 400,
            }
        ],
    }


def _publish(cloudwatch: Any, metric: dict[str, Any], values: list[float]) -> None:
    start = minute_floor(NOW) - timedelta(minutes=len(values) - 1)
    cloudwatch.put_metric_data(
        Namespace=metric["Namespace"],
        MetricData=[
            {
                "MetricName": metric["MetricName"],
                "Dimensions": metric["Dimensions"],
                "Timestamp": start + timedelta(minutes=i),
                "Value": value,
            }
            for i, value in enumerate(values)
        ],
    )


def _fleet(clients: dict[str, Any]) -> list[StoredTarget]:
    """Eleven targets: 5 groups (one with a step policy, one with a predictive policy), 5 services in two
    clusters, and a target whose group was deleted since it was registered."""
    cloudwatch = clients["cloudwatch"]
    bodies: dict[str, dict[str, Any]] = {}
    for index, cpu in enumerate([90.0, 20.0, 55.0, 75.0, 40.0]):
        name = f"web-{index}"
        make_asg(clients, name, desired=2)
        publish_cpu(cloudwatch, name, [cpu] * 20, end=minute_floor(NOW))
        bodies[name] = asg_target(name)
    put_alarm(
        cloudwatch,
        "web-3-high",
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web-3"},
        threshold=70,
    )
    # In ALARM on a datapoint of a known minute (else the alarm's time is when this world was made).
    newest = minute_floor(NOW) - timedelta(minutes=1)
    reason = {"evaluatedDatapoints": [{"timestamp": newest.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "value": 75.0}]}
    cloudwatch.set_alarm_state(
        AlarmName="web-3-high", StateValue="ALARM", StateReason="75 > 70", StateReasonData=json.dumps(reason)
    )
    bodies["web-3"]["policies"].append(
        {
            "type": "step",
            "name": "burst",
            "alarm_name": "web-3-high",
            "adjustment_type": "change_in_capacity",
            "steps": [{"lower_bound": 0, "adjustment": 2}],
        }
    )
    _publish(cloudwatch, REQUESTS, [120.0] * 90)
    bodies["web-4"]["policies"].append(
        {
            "type": "predictive",
            "name": "requests",
            "metric": {
                "type": "custom",
                "namespace": "Web",
                "metric_name": "Requests",
                "dimensions": {"Site": "shop"},
                "statistic": "Sum",
            },
            "unit_capacity": 10,
        }
    )
    for index, (cluster, connections) in enumerate(
        [("chat-a", 900.0), ("chat-a", 100.0), ("chat-a", 400.0), ("chat-b", 1500.0), ("chat-b", 50.0)]
    ):
        service = f"chat-{index}"
        make_service(clients, cluster, service, desired=2)
        metric = _connections(service, cluster)
        dimensions = [{"Name": k, "Value": v} for k, v in metric["dimensions"].items()]
        _publish(
            cloudwatch,
            {"Namespace": "Marea/Chat", "MetricName": "ConnectedClients", "Dimensions": dimensions},
            [connections] * 20,
        )
        bodies[service] = _ecs_target(service, cluster)
    make_asg(clients, "gone", desired=2)
    bodies["gone"] = asg_target("gone")
    for target_id, body in bodies.items():
        wiring.registry().put(TARGET_ADAPTER.validate_python({"id": target_id, **body}))
    clients["autoscaling"].delete_auto_scaling_group(AutoScalingGroupName="gone", ForceDelete=True)
    return sorted(wiring.registry().iter_all(), key=lambda s: s.target.id)


def _comparable(decision: Decision) -> dict[str, Any]:
    """A decision without what is random in it (its id)."""
    return decision.model_dump(mode="json", exclude={"id"})


def _differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as paths (a readable failure for two large decisions)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [d for k in sorted({*left, *right}) for d in _differences(left.get(k), right.get(k), f"{path}.{k}")]
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return [d for i, (a, b) in enumerate(zip(left, right, strict=True)) for d in _differences(a, b, f"{path}[{i}]")]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


@pytest.fixture
def fixed_clock() -> Iterator[None]:
    wiring.use_clock(lambda: NOW)
    yield
    wiring.use_clock(lambda: datetime.now(UTC))


def _fresh_fleet(embedded_aws: Any, clients: dict[str, Any]) -> list[StoredTarget]:
    """The fleet on a fresh embedded AWS (the data stack's tables again, Marea's clients and clock anew)."""
    embedded_aws.reset()
    create_data_stack(clients["dynamodb"], clients["sqs"], stage="test")
    wiring.reset()
    wiring.use_clock(lambda: NOW)
    return _fleet(clients)


def _evaluate(fleet: list[StoredTarget], trigger: Trigger, *, together: bool) -> dict[str, dict[str, Any]]:
    if together:
        decisions = triggers.evaluate_together(fleet, trigger)
    else:
        decisions = [wiring.evaluator().evaluate(stored, trigger) for stored in fleet]
    return {d.target_id: _comparable(d) for d in decisions}


def _run(
    embedded_aws: Any, clients: dict[str, Any], *, together: bool
) -> tuple[dict[str, dict[str, Any]], Counter[str]]:
    """A fresh fleet evaluated alone or together: the decisions and the AWS calls Marea's clients made."""
    fleet = _fresh_fleet(embedded_aws, clients)
    calls: Counter[str] = Counter()
    aws.on_every_client("before-call.*.*", lambda model, **_: calls.update([model.name]))
    decisions = _evaluate(fleet, Trigger(type=TriggerType.SCHEDULE, event_id="tick-1", at=NOW), together=together)
    return decisions, calls


READS = ("DescribeAutoScalingGroups", "DescribeServices", "GetMetricData", "DescribeAlarms")


def test_targets_read_together_decide_exactly_as_they_do_alone_in_fewer_calls(
    embedded_aws: Any, data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    alone, alone_calls = _run(embedded_aws, clients, together=False)
    together, together_calls = _run(embedded_aws, clients, together=True)

    assert sorted(together) == sorted(alone)
    for target_id, decision in alone.items():
        assert _differences(together[target_id], decision) == [], target_id
    kinds = {d["action"] for d in alone.values()} | {d["outcome"] for d in alone.values()}
    assert {"out", "in", "applied", "failed"} <= kinds  # the fleet scales both ways and fails one read
    assert {k: alone_calls[k] for k in READS} == {
        "DescribeAutoScalingGroups": 6,
        "DescribeServices": 5,
        "GetMetricData": 11,  # 10 readable targets, one of them with a predictive history as well
        "DescribeAlarms": 1,
    }
    # One call per kind and cluster; GetMetricData once for the windows (one StartTime), once for the history.
    assert {k: together_calls[k] for k in READS} == {
        "DescribeAutoScalingGroups": 1,
        "DescribeServices": 2,
        "GetMetricData": 2,
        "DescribeAlarms": 1,
    }
    # The writes do not change: one transaction per decision.
    assert together_calls["TransactWriteItems"] == alone_calls["TransactWriteItems"]


def test_a_failed_shared_read_fails_the_evaluations_that_needed_it_as_their_own_call_would(
    embedded_aws: Any, data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetMetricData")

    runs = []
    for together in (False, True):
        fleet = _fresh_fleet(embedded_aws, clients)
        aws.on_every_client("before-call.cloudwatch.GetMetricData", throttled)
        runs.append(_evaluate(fleet, Trigger(type=TriggerType.SCHEDULE, event_id="tick-2", at=NOW), together=together))

    alone, together_decisions = runs
    assert together_decisions == alone
    assert {d["outcome"] for d in alone.values()} == {"failed"}
    assert all("Rate exceeded" in (d["error"] or "") or "does not exist" in (d["error"] or "") for d in alone.values())
