"""Stand-in for Fargate running Marea's kops runner tasks (moto's ECS starts no containers).

Each ``step`` finds the runner tasks Marea started with RunTask in the embedded AWS, runs the
runner's entrypoint locally with the task's environment overrides (as the container would), stops
the task in moto, and delivers the "ECS Task State Change" (STOPPED) event EventBridge would send.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.constants import RUNNER_TASK_GROUP

logger = logging.getLogger(__name__)

RunRunner = Callable[[dict[str, str]], tuple[int, dict[str, Any]]]
Deliver = Callable[[dict[str, Any]], Any]


class LocalFargate:
    def __init__(self, ecs: Any, run_runner: RunRunner, deliver: Deliver, *, account: str = "123456789012") -> None:
        self._ecs = ecs
        self._run_runner = run_runner
        self._deliver = deliver
        self._account = account
        self._handled: set[str] = set()

    def step(self, now: datetime | None = None) -> list[tuple[dict[str, Any], Any]]:
        """Run every runner task not yet run; returns (event, handler result) pairs."""
        now = now or datetime.now(UTC)
        results = []
        for task in self._pending_runner_tasks():
            environment = {
                pair["name"]: pair["value"]
                for override in task.get("overrides", {}).get("containerOverrides", [])
                for pair in override.get("environment", [])
            }
            exit_code, outcome = self._run_runner(environment)
            self._handled.add(task["taskArn"])
            reason = "Essential container in task exited"
            self._ecs.stop_task(cluster=task["clusterArn"], task=task["taskArn"], reason=reason)
            event = task_stopped_event(task, exit_code, reason, now, self._account)
            logger.info("runner task %s exited %s: %s", task["taskArn"], exit_code, outcome.get("status"))
            results.append((event, self._deliver(event)))
        return results

    def _pending_runner_tasks(self) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        for cluster in self._ecs.list_clusters().get("clusterArns", []):
            arns = [a for a in self._ecs.list_tasks(cluster=cluster).get("taskArns", []) if a not in self._handled]
            if not arns:
                continue
            for task in self._ecs.describe_tasks(cluster=cluster, tasks=arns).get("tasks", []):
                if task.get("group") == RUNNER_TASK_GROUP and task.get("startedBy"):
                    tasks.append(task)
                else:
                    self._handled.add(task["taskArn"])  # not Marea's: never look at it again
        return tasks


def task_stopped_event(task: dict[str, Any], exit_code: int, reason: str, at: datetime, account: str) -> dict[str, Any]:
    """The EventBridge "ECS Task State Change" event of a task that stopped (AWS's format)."""
    region = task["taskArn"].split(":")[3]
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    container_name = next(
        (o["name"] for o in task.get("overrides", {}).get("containerOverrides", []) if "name" in o), "kops-runner"
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "ECS Task State Change",
        "source": "aws.ecs",
        "account": account,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [task["taskArn"]],
        "detail": {
            "clusterArn": task["clusterArn"],
            "taskArn": task["taskArn"],
            "taskDefinitionArn": task.get("taskDefinitionArn"),
            "group": task.get("group"),
            "startedBy": task.get("startedBy"),
            "launchType": "FARGATE",
            "lastStatus": "STOPPED",
            "desiredStatus": "STOPPED",
            "stopCode": "EssentialContainerExited",
            "stoppedReason": reason,
            "stoppedAt": stamp,
            "containers": [
                {"name": container_name, "exitCode": exit_code, "lastStatus": "STOPPED", "taskArn": task["taskArn"]}
            ],
            "version": 3,
        },
    }
