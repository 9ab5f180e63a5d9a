"""What the ECS actuator reads off a service in the embedded AWS, and what a deployment does to a decision.

moto shows one deployment per service and marks it IN_PROGRESS forever, with its own task counts at
0 running; the service's runningCount is 0 until the first update, then equals desiredCount. So a
service updated once reads as not deploying, and a service just created (none of its tasks running)
as deploying. The other shapes are unit-tested in tests/unit/test_ecs_deployments.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import aws
from chalicelib.actuators.ecs import EcsActuator
from chalicelib.models.targets import EcsTarget
from marea_local.demo_resources import managed_ecs_tags
from tests.integration.world import STAGE, make_service, register


def ecs_target(service: str) -> EcsTarget:
    return EcsTarget(id=service, cluster="demo", service=service, min=1, max=10)


def test_a_service_in_steady_state_reads_as_not_deploying(clients: dict[str, Any]) -> None:
    make_service(clients, desired=3)
    described = clients["ecs"].describe_services(cluster="demo", services=["chat"])["services"][0]

    reading = EcsActuator(clients["ecs"]).read(ecs_target("chat"))

    assert [d["rolloutState"] for d in described["deployments"]] == ["IN_PROGRESS"]  # moto's answer, always
    assert (reading.current, reading.serving, reading.scale_in_suspended) == (3, 3, None)
    assert reading.details["deployments"] == 1


def test_a_service_whose_deployment_has_not_started_its_tasks_reads_as_deploying(clients: dict[str, Any]) -> None:
    make_service(clients, desired=2)  # the cluster and task definition
    clients["ecs"].create_service(cluster="demo", serviceName="fresh", taskDefinition="chat-task", desiredCount=3)

    reading = EcsActuator(clients["ecs"]).read(ecs_target("fresh"))

    assert (reading.current, reading.serving) == (3, 0)
    assert reading.scale_in_suspended is not None
    assert reading.scale_in_suspended.endswith("in progress (0 of 3 tasks running)")


def test_a_deploying_service_with_low_load_is_not_scaled_in(client: Any, clients: dict[str, Any]) -> None:
    make_service(clients, desired=2)
    clients["ecs"].create_service(
        cluster="demo",
        serviceName="fresh",
        taskDefinition="chat-task",
        desiredCount=6,
        tags=managed_ecs_tags(STAGE),  # what the stage's IAM role may update
    )
    policy = {"type": "custom", "namespace": "App", "metric_name": "Queue", "dimensions": {"Service": "fresh"}}
    register(
        client,
        "fresh",
        {
            "kind": "ecs",
            "cluster": "demo",
            "service": "fresh",
            "min": 1,
            "max": 10,
            "mode": "act",
            "scale_in_stabilization_s": 0,
            "policies": [{"type": "target_tracking", "name": "queue", "metric": policy, "target_value": 50}],
        },
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    aws.cloudwatch()  # the collector's client, created before the data is put
    clients["cloudwatch"].put_metric_data(
        Namespace="App",
        MetricData=[
            {
                "MetricName": "Queue",
                "Dimensions": [{"Name": "Service", "Value": "fresh"}],
                "Timestamp": now - timedelta(minutes=m),
                "Value": 1.0,
            }
            for m in range(15)
        ],
    )

    decision = client.http.post("/targets/fresh/evaluate").json_body

    assert (decision["action"], decision["final"]) == ("none", 6), decision["explanation"]
    assert "SCALE_IN_SUSPENDED" in decision["reasons"]
    assert "scale-in suspended: ECS deployment" in decision["explanation"]
    assert decision["inputs"]["capacity"]["deployments"] == 1
