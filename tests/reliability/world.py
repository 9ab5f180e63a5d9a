"""Workloads, targets and events for the reliability scenarios, in the embedded AWS.

Events are built in AWS's exact EventBridge formats (the same shapes as tests/events/*.json);
targets are registered through Marea's own registry, as PUT /targets does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from marea_local.demo_resources import create_fargate_service, create_web_asg
from tests.reliability.embedded import STAGE

ACCOUNT = "123456789012"
REGION = "us-east-1"
ALARM_THRESHOLD = 80.0
CLUSTER = "rel"


def aws_clients() -> dict[str, Any]:
    """Clients of the test itself (never faulted, never counted as Marea's calls)."""
    return {name: boto3.client(name) for name in ("autoscaling", "ec2", "ecs", "cloudwatch", "dynamodb", "sqs")}


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def alarm_name(asg_name: str) -> str:
    return f"{asg_name}-cpu-high"


# ---- targets ---------------------------------------------------------------------------------


def asg_body(target_id: str, asg_name: str, *, low: int = 1, high: int = 8, cooldown_s: int = 0) -> dict[str, Any]:
    """CPU target tracking at 50 % and a step policy on the group's CPU alarm; act mode."""
    return {
        "id": target_id,
        "kind": "asg",
        "asg_name": asg_name,
        "min": low,
        "max": high,
        "mode": "act",
        "scale_in_stabilization_s": 0,
        "policies": [
            {
                "type": "target_tracking",
                "name": "cpu",
                "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
                "target_value": 50,
                "scale_out_datapoints": 2,
                "scale_in_datapoints": 3,
                "scale_out_cooldown_s": cooldown_s,
                "scale_in_cooldown_s": cooldown_s,
            },
            {
                "type": "step",
                "name": "burst",
                "alarm_name": alarm_name(asg_name),
                "adjustment_type": "change_in_capacity",
                "steps": [{"lower_bound": 0, "adjustment": 1}],
                "cooldown_s": cooldown_s,
            },
        ],
    }


def ecs_body(target_id: str, service: str, *, low: int = 1, high: int = 8, cooldown_s: int = 0) -> dict[str, Any]:
    """Connections per task at 400 (a custom metric, like the chat service); act mode."""
    return {
        "id": target_id,
        "kind": "ecs",
        "cluster": CLUSTER,
        "service": service,
        "min": low,
        "max": high,
        "mode": "act",
        "scale_in_stabilization_s": 0,
        "policies": [
            {
                "type": "target_tracking",
                "name": "connections",
                "metric": {
                    "type": "custom",
                    "namespace": "Marea/Chat",
                    "metric_name": "ConnectedClients",
                    "dimensions": {"ClusterName": CLUSTER, "ServiceName": service},
                },
                "target_value": 400,
                "scale_out_datapoints": 2,
                "scale_in_datapoints": 3,
                "scale_out_cooldown_s": cooldown_s,
                "scale_in_cooldown_s": cooldown_s,
            }
        ],
    }


def register(body: dict[str, Any]) -> None:
    from chalicelib import wiring
    from chalicelib.store.items import TARGET_ADAPTER

    wiring.registry().put(TARGET_ADAPTER.validate_python(body))


@dataclass(frozen=True)
class Fleet:
    """The targets of a scenario: ASG targets (``asg-N`` on group ``web-N``) and ECS ones (``svc-N``)."""

    asgs: tuple[str, ...]
    services: tuple[str, ...]
    bounds: dict[str, tuple[int, int]]

    @property
    def target_ids(self) -> tuple[str, ...]:
        return self.asgs + self.services


def build_fleet(
    clients: dict[str, Any], *, asgs: int, services: int, desired: int = 2, cooldown_s: int = 0, high: int = 8
) -> Fleet:
    bounds: dict[str, tuple[int, int]] = {}
    asg_ids, service_ids = [], []
    for index in range(asgs):
        target_id, group = f"asg-{index}", f"web-{index}"
        create_web_asg(
            clients["ec2"], clients["autoscaling"], group, stage=STAGE, min_size=0, max_size=20, desired=desired
        )
        register(asg_body(target_id, group, high=high, cooldown_s=cooldown_s))
        asg_ids.append(target_id)
        bounds[target_id] = (1, high)
    for index in range(services):
        target_id = f"svc-{index}"
        if index == 0:
            create_fargate_service(clients["ec2"], clients["ecs"], CLUSTER, target_id, stage=STAGE, desired=desired)
        else:
            clients["ecs"].create_service(
                cluster=CLUSTER, serviceName=target_id, taskDefinition="svc-0-task", desiredCount=desired
            )
        register(ecs_body(target_id, target_id, high=high, cooldown_s=cooldown_s))
        service_ids.append(target_id)
        bounds[target_id] = (1, high)
    return Fleet(asgs=tuple(asg_ids), services=tuple(service_ids), bounds=bounds)


def group_of(target_id: str) -> str:
    return "web-" + target_id.split("-", 1)[1]


def capacity(clients: dict[str, Any], target_id: str) -> int:
    if target_id.startswith("asg-"):
        groups = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[group_of(target_id)])
        return int(groups["AutoScalingGroups"][0]["DesiredCapacity"])
    services = clients["ecs"].describe_services(cluster=CLUSTER, services=[target_id])["services"]
    return int(services[0]["desiredCount"])


# ---- metric data -----------------------------------------------------------------------------


def publish_load(clients: dict[str, Any], fleet: Fleet, end: datetime, cpu: float, connections: float) -> None:
    """Three one-minute datapoints ending at ``end`` for every target's metric."""
    points = [minute(end) - timedelta(minutes=m) for m in range(3)]
    for target_id in fleet.asgs:
        clients["cloudwatch"].put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "AutoScalingGroupName", "Value": group_of(target_id)}],
                    "Timestamp": at,
                    "Value": cpu,
                }
                for at in points
            ],
        )
    for target_id in fleet.services:
        clients["cloudwatch"].put_metric_data(
            Namespace="Marea/Chat",
            MetricData=[
                {
                    "MetricName": "ConnectedClients",
                    "Dimensions": [
                        {"Name": "ClusterName", "Value": CLUSTER},
                        {"Name": "ServiceName", "Value": target_id},
                    ],
                    "Timestamp": at,
                    "Value": connections,
                }
                for at in points
            ],
        )


# ---- events ----------------------------------------------------------------------------------


def alarm_event(
    group: str, at: datetime, cpu: float, *, event_id: str | None = None, recent: list[float] | None = None
) -> dict[str, Any]:
    """An alarm state change to ALARM (cpu above the threshold) or OK, carrying its 3 datapoints: those of the
    3 minutes before ``at``, ``recent`` (oldest first), or all at ``cpu``."""
    state = "ALARM" if cpu > ALARM_THRESHOLD else "OK"
    values = recent or [cpu, cpu, cpu]
    points = {m: minute(at) - timedelta(minutes=m) for m in (1, 2, 3)}
    reason_data = {
        "version": "1.0",
        "queryDate": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "statistic": "Average",
        "period": 60,
        "recentDatapoints": values,
        "threshold": ALARM_THRESHOLD,
        "evaluatedDatapoints": [
            {"timestamp": p.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "sampleCount": 5.0, "value": values[-m]}
            for m, p in points.items()
        ],
    }
    name = alarm_name(group)
    detail_state = {
        "value": state,
        "reason": f"Threshold Crossed: 3 datapoints at {cpu}",
        "reasonData": json.dumps(reason_data),
        "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": stamp(at),
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"],
        "detail": {
            "alarmName": name,
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": "AWS/EC2",
                                "name": "CPUUtilization",
                                "dimensions": {"AutoScalingGroupName": group},
                            },
                            "period": 60,
                            "stat": "Average",
                        },
                        "returnData": True,
                    }
                ]
            },
            "previousState": {**detail_state, "value": "OK" if state == "ALARM" else "ALARM"},
            "state": detail_state,
        },
    }


def tick_event(at: datetime, *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": stamp(at),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/marea-rel-on_schedule_tick"],
        "detail": {},
    }


def sqs_event(bodies: list[str], queue: str = "marea-rel-evaluations") -> dict[str, Any]:
    """An SQS event as Lambda's event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": str(uuid.uuid4()),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
    }
