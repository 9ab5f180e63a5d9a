"""Stand-in for Fargate running Marea's kops runner tasks (moto's ECS starts no containers).

Each ``step`` finds the runner tasks Marea started with RunTask in the embedded AWS, runs the
runner locally for that task (marea_local.kops_local.run_runner_locally: it reads the task's overrides
and its task definition from ECS, as on Fargate), stops
the task in moto, and delivers the "ECS Task State Change" (STOPPED) event EventBridge would send.

A task already stopped with StopTask (Marea stops a runner whose lease expired) is never run: its
STOPPED event is delivered as AWS sends it, with the reason given to StopTask and no exit code (the
stand-in had not started its container). moto's ListTasks returns stopped tasks too (AWS lists only
desiredStatus RUNNING by default) and its lastStatus moves on by itself each time a task is
described, so the desiredStatus StopTask sets is what tells a stopped task here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib.constants import RUNNER_TASK_GROUP

logger = logging.getLogger(__name__)

RunRunner = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]  # the task (DescribeTasks) → (exit code, outcome)
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
            stopped = task.get("desiredStatus") == "STOPPED"
            event = self._stopped_before_it_ran(task, now) if stopped else self._run(task, now)
            results.append((event, self._deliver(event)))
        return results

    def _stopped_before_it_ran(self, task: dict[str, Any], now: datetime) -> dict[str, Any]:
        self._handled.add(task["taskArn"])
        logger.info("runner task %s was stopped before it ran: not run", task["taskArn"])
        return task_stopped_event(task, None, task.get("stoppedReason") or "", now, self._account)

    def _run(self, task: dict[str, Any], now: datetime) -> dict[str, Any]:
        exit_code, outcome = self._run_runner(task)
        self._handled.add(task["taskArn"])
        reason = "Essential container in task exited"
        self._ecs.stop_task(cluster=task["clusterArn"], task=task["taskArn"], reason=reason)
        logger.info("runner task %s exited %s: %s", task["taskArn"], exit_code, outcome.get("status"))
        return task_stopped_event(task, exit_code, reason, now, self._account)

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


def task_stopped_event(
    task: dict[str, Any], exit_code: int | None, reason: str, at: datetime, account: str
) -> dict[str, Any]:
    """The EventBridge "ECS Task State Change" event of a task that stopped (AWS's format).

    ``exit_code`` None: stopped with StopTask before its container ran (stopCode UserInitiated, no exit code).
    """
    region = task["taskArn"].split(":")[3]
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    container_name = next(
        (o["name"] for o in task.get("overrides", {}).get("containerOverrides", []) if "name" in o), "kops-runner"
    )
    container: dict[str, Any] = {"name": container_name, "lastStatus": "STOPPED", "taskArn": task["taskArn"]}
    if exit_code is not None:
        container["exitCode"] = exit_code
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
            "stopCode": "EssentialContainerExited" if exit_code is not None else "UserInitiated",
            "stoppedReason": reason,
            "stoppedAt": stamp,
            "containers": [container],
            "version": 3,
        },
    }
