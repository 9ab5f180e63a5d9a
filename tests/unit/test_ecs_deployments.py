"""Reading whether an ECS service is in the middle of a deployment (DescribeServices `deployments`).

Application Auto Scaling suspends scale-in while an ECS deployment is in progress. The shapes below
are DescribeServices' (ECS API reference, Deployment): tests/integration/test_ecs_capacity.py
reads moto's real answer, which never shows a second deployment and reports every PRIMARY
deployment IN_PROGRESS forever, so these cover the cases moto cannot show.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.actuators.ecs import deployment_in_progress


def deployment(status: str, rollout: str | None = "COMPLETED", ident: str = "ecs-svc/1111") -> dict[str, Any]:
    entry: dict[str, Any] = {"id": ident, "status": status, "desiredCount": 10, "runningCount": 10}
    if rollout is not None:
        entry["rolloutState"] = rollout
    return entry


def service(*deployments: dict[str, Any], running: int = 10, desired: int = 10) -> dict[str, Any]:
    return {"status": "ACTIVE", "desiredCount": desired, "runningCount": running, "deployments": list(deployments)}


@pytest.mark.parametrize(
    ("described", "expected"),
    [
        pytest.param(service(deployment("PRIMARY")), None, id="steady-state"),
        pytest.param(
            service(
                deployment("PRIMARY", "IN_PROGRESS", "ecs-svc/2222"), deployment("ACTIVE", "COMPLETED"), running=20
            ),
            "ECS deployment ecs-svc/2222 in progress (tasks of 2 deployments running)",
            id="rolling-update-old-and-new-tasks",
        ),
        pytest.param(
            service(deployment("PRIMARY", "IN_PROGRESS", "ecs-svc/2222"), running=6),
            "ECS deployment ecs-svc/2222 in progress (6 of 10 tasks running)",
            id="new-deployment-still-starting-its-tasks",
        ),
        # All its tasks run; it waits for steady state (moto reports every deployment like this, forever).
        pytest.param(service(deployment("PRIMARY", "IN_PROGRESS")), None, id="in-progress-with-all-tasks-running"),
        pytest.param(service(deployment("PRIMARY", None), running=6), None, id="no-rollout-state-one-deployment"),
        pytest.param(service(deployment("PRIMARY"), deployment("INACTIVE")), None, id="inactive-ones-do-not-count"),
        pytest.param(service(), None, id="no-deployments-listed"),
    ],
)
def test_a_deployment_in_progress_is_read_from_the_service(described: dict[str, Any], expected: str | None) -> None:
    assert deployment_in_progress(described) == expected
