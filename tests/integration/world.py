"""Helpers that set up workloads and metric data in the embedded AWS for integration tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marea_local.demo_resources import create_fargate_service, create_web_asg

HEADERS = {"Content-Type": "application/json"}
# Stage of the tests' tables (conftest's data_stack), runner and workload tags; the IAM guard maps it onto dev and prod.
STAGE = "test"


def minute_floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def publish_cpu(cloudwatch: Any, asg_name: str, values: list[float], end: datetime | None = None) -> datetime:
    """One datapoint a minute, the last at ``end`` (default: the current minute). Returns ``end``."""
    end = minute_floor(end or datetime.now(UTC))
    start = end - timedelta(minutes=len(values) - 1)
    cloudwatch.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": asg_name}],
                "Timestamp": start + timedelta(minutes=i),
                "Value": value,
                "Unit": "Percent",
            }
            for i, value in enumerate(values)
        ],
    )
    return end


def asg_target(asg_name: str = "web", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "asg",
        "asg_name": asg_name,
        "min": 1,
        "max": 10,
        "mode": "act",
        "policies": [
            {
                "type": "target_tracking",
                "name": "cpu",
                "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
                "target_value": 50,
                "scale_out_datapoints": 2,
            }
        ],
    }
    body.update(overrides)
    return body


def register(client: Any, target_id: str, body: dict[str, Any]) -> None:
    response = client.http.put(f"/targets/{target_id}", headers=HEADERS, body=json.dumps(body))
    assert response.status_code in (200, 201), response.json_body


def make_asg(clients: dict[str, Any], name: str = "web", desired: int = 2, max_size: int = 20) -> None:
    create_web_asg(
        clients["ec2"], clients["autoscaling"], name, stage=STAGE, min_size=1, max_size=max_size, desired=desired
    )


def make_service(clients: dict[str, Any], cluster: str = "demo", service: str = "chat", desired: int = 2) -> None:
    create_fargate_service(clients["ec2"], clients["ecs"], cluster, service, stage=STAGE, desired=desired)


def asg_desired(clients: dict[str, Any], name: str = "web") -> int:
    group = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return int(group["DesiredCapacity"])


KOPS_CLUSTER = "demo.k8s.local"
KOPS_IG = "nodes"
KOPS_STATE_STORE = "s3://marea-kops-state"
# Named as infra/kops-runner.yaml names them for stage "test": the IAM policy guard checks RunTask against them.
RUNNER_CLUSTER = f"marea-{STAGE}-kops-runner"


def make_runner_cluster(clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The ECS cluster and task definition the kops runner runs in, set as the stage's runner settings
    (MAREA_KOPS_RUNNER_*, for this test only); returns where it runs."""
    from chalicelib import wiring
    from marea_local.demo_resources import create_kops_runner_cluster, runner_environment

    runner = create_kops_runner_cluster(
        clients["ec2"],
        clients["ecs"],
        stage=STAGE,
        kops_cluster=KOPS_CLUSTER,
        state_store=KOPS_STATE_STORE,
        instance_groups=[KOPS_IG],
    )
    for name, value in runner_environment(runner).items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    return runner


def kops_target(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "kops",
        "cluster_name": KOPS_CLUSTER,
        "instance_group": KOPS_IG,
        "state_store": KOPS_STATE_STORE,
        "min": 1,
        "max": 10,
        "mode": "act",
        "policies": [
            {
                "type": "target_tracking",
                "name": "cpu",
                "metric": {
                    "type": "custom",
                    "namespace": "AWS/EC2",
                    "metric_name": "CPUUtilization",
                    "dimensions": {"AutoScalingGroupName": f"{KOPS_IG}.{KOPS_CLUSTER}"},
                },
                "target_value": 50,
                "scale_out_datapoints": 2,
                "scale_out_cooldown_s": 0,
            }
        ],
    }
    body.update(overrides)
    return body
