"""Which task the runner is: its identity (task metadata) and, from ECS, its overrides and registered environment.

On Fargate the task metadata endpoint v4 (`ECS_CONTAINER_METADATA_URI_V4`, always on the link-local
host 169.254.170.2, served by the Fargate agent to this task only) names the task and the container.
`ecs:DescribeTasks` then gives the task's overrides as ECS recorded them (not as the process
environment shows them), and `ecs:DescribeTaskDefinition` the environment registered for the
container: the runner's pinned settings. What the overrides may hold is kops_runner/overrides.py's.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kops_runner.errors import BadRequest

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

METADATA_VARIABLE = "ECS_CONTAINER_METADATA_URI_V4"
# Fargate's task metadata endpoint: http://169.254.170.2/v4/<id> (AWS: "Task metadata endpoint version 4 for
# tasks on Fargate"). Any other host could be a server of the caller's choosing that describes a task of its own.
FARGATE_METADATA_HOST = "169.254.170.2"
# This task's own path there (the agent's: /v4/<hex id>-<number>); no "..", query or fragment naming another.
_METADATA_PATH = re.compile(r"/v4/[A-Za-z0-9-]{1,128}/?")
_METADATA_TIMEOUT_S = 5
_TASK_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecs:([a-z0-9-]{1,32}):[0-9]{12}:task/([A-Za-z0-9_-]{1,255}/)?[A-Za-z0-9-]{1,64}$"
)


@dataclass(frozen=True)
class TaskIdentity:
    task_arn: str
    cluster: str
    container_name: str

    @property
    def region(self) -> str:
        """From the task's own ARN, not from AWS_REGION (which a caller could override)."""
        match = _TASK_ARN.match(self.task_arn)
        if match is None:
            raise BadRequest("the task metadata named no valid task ARN")
        return match[1]


@dataclass(frozen=True)
class DescribedTask:
    overrides: dict[str, Any]
    task_definition_arn: str
    registered_environment: list[dict[str, Any]]
    created_at: datetime | None = None  # AWS: when the task entered PENDING (moto's DescribeTasks omits it)


def metadata_endpoint(value: str | None) -> str:
    """The v4 endpoint, accepted only on Fargate's fixed host over plain HTTP (as the agent serves it)."""
    if not value:
        raise BadRequest(f"{METADATA_VARIABLE} is not set: the runner runs only as an ECS task on Fargate")
    parts = urllib.parse.urlsplit(value)
    if (parts.scheme, parts.netloc) != ("http", FARGATE_METADATA_HOST):
        raise BadRequest(f"{METADATA_VARIABLE} is not on Fargate's task metadata host {FARGATE_METADATA_HOST}")
    if not _METADATA_PATH.fullmatch(parts.path) or parts.query or parts.fragment or value.endswith(("?", "#")):
        raise BadRequest(f"{METADATA_VARIABLE} is not a task's v4 path on {FARGATE_METADATA_HOST} (/v4/<id>)")
    return value.rstrip("/")


def _get_json(url: str) -> Any:
    # No proxies whatever the environment says: the endpoint is link-local.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=_METADATA_TIMEOUT_S) as response:
        return json.loads(response.read())


def identify(endpoint: str, get_json: Callable[[str], Any] = _get_json) -> TaskIdentity:
    """This container's name and its task's ARN and cluster, from the task metadata endpoint."""
    container = get_json(endpoint)
    task = get_json(f"{endpoint}/task")
    try:
        identity = TaskIdentity(task_arn=task["TaskARN"], cluster=task["Cluster"], container_name=container["Name"])
    except (KeyError, TypeError) as error:
        raise BadRequest(f"the task metadata lacks {error}") from error
    _ = identity.region  # validates the ARN
    return identity


def describe(ecs: ECSClient, identity: TaskIdentity) -> DescribedTask:
    """The task's overrides and the environment its task definition registers for this container."""
    tasks = ecs.describe_tasks(cluster=identity.cluster, tasks=[identity.task_arn]).get("tasks", [])
    if len(tasks) != 1 or tasks[0].get("taskArn") != identity.task_arn:
        raise BadRequest(f"ECS does not know this task ({identity.task_arn})")
    task: Any = tasks[0]
    # RunTask parameters outside `overrides` that ECS records on the task: ECS Exec would be a shell holding the
    # runner's role (today only the missing ssmmessages:* grant stops it; the runner does not rely on that).
    if task.get("enableExecuteCommand"):
        raise BadRequest("refused: the task was started with enableExecuteCommand (ECS Exec)")
    definition: Any = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
    containers = [c for c in definition.get("containerDefinitions", []) if c.get("name") == identity.container_name]
    if len(containers) != 1:
        raise BadRequest(f"the task definition has no container {identity.container_name}")
    return DescribedTask(
        overrides=task.get("overrides") or {},
        task_definition_arn=task["taskDefinitionArn"],
        registered_environment=list(containers[0].get("environment", [])),
        created_at=task.get("createdAt"),
    )
