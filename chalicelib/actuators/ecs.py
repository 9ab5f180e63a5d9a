"""ECS service actuator: UpdateService desiredCount (Fargate or EC2 launch type alike).

Reads the desired count, the tasks running (what a metric is averaged over) and whether a
deployment is in progress (Application Auto Scaling suspends scale-in then).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.access_errors import caused, explained
from chalicelib.actuators.base import Actuation, read_one
from chalicelib.actuators.described import Described, describe_services
from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.targets import EcsTarget, TargetBase

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


class EcsActuator:
    def __init__(self, client: ECSClient, acting: Callable[[str], ECSClient] | None = None) -> None:
        """``acting``: the client a decision's change is made with, by decision id (another account's role
        session named after it, docs/multi-account.md); by default the reading client."""
        self._client = client
        self._acting = acting or (lambda _: client)

    def read(self, target: TargetBase) -> CapacityReading:
        return read_one(self, target)

    def read_many(self, targets: Sequence[TargetBase]) -> dict[str, CapacityReading | ActuationError]:
        """Each target's reading (or why it could not be read), 10 services of a cluster per DescribeServices."""
        services = [t for t in targets if isinstance(t, EcsTarget)]
        assert len(services) == len(targets)
        by_cluster: dict[str, list[EcsTarget]] = {}
        for target in services:
            by_cluster.setdefault(target.cluster, []).append(target)
        readings: dict[str, CapacityReading | ActuationError] = {}
        for cluster, members in by_cluster.items():
            described = describe_services(self._client, cluster, (t.service for t in members))
            readings.update({t.id: _reading(t, described[t.service]) for t in members})
        return readings

    def apply(self, target: TargetBase, capacity: int, decision_id: str) -> Actuation:
        assert isinstance(target, EcsTarget)
        try:
            self._acting(decision_id).update_service(
                cluster=target.cluster, service=target.service, desiredCount=capacity
            )
        except (ClientError, BotoCoreError) as exc:
            raise ActuationError(
                f"UpdateService({target.cluster}/{target.service}, desiredCount={capacity}) failed: "
                f"{explained(exc, target)}"
            ) from exc
        return Actuation(note=f"set desiredCount of {target.cluster}/{target.service} to {capacity}")


# Deployments whose tasks may still run: the new one (PRIMARY) and those it replaces (ACTIVE).
_RUNNING_DEPLOYMENT_STATUSES = frozenset({"PRIMARY", "ACTIVE"})


def deployment_in_progress(service: Mapping[str, Any]) -> str | None:
    """Why a DescribeServices entry shows a deployment in progress, None when it does not.

    Application Auto Scaling suspends scale-in while an ECS deployment is in progress
    (docs/aws-semantics.md, "ECS services: deployments and tasks that do not start"). In progress:
    tasks of more than one deployment run (a rolling update: more tasks may run than are desired),
    or the primary deployment is IN_PROGRESS and the service does not run its desired count yet. A
    primary deployment IN_PROGRESS whose tasks all run only waits for steady state, and is not.
    """
    deployments = _running_deployments(service)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    name = f"ECS deployment {(primary or {}).get('id', '(unnamed)')} in progress"
    if len(deployments) > 1:
        return f"{name} (tasks of {len(deployments)} deployments running)"
    running, desired = service.get("runningCount", 0), service.get("desiredCount", 0)
    if primary is not None and primary.get("rolloutState") == "IN_PROGRESS" and running != desired:
        return f"{name} ({running} of {desired} tasks running)"
    return None


def _running_deployments(service: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [d for d in service.get("deployments", []) if d.get("status") in _RUNNING_DEPLOYMENT_STATUSES]


def _reading(target: EcsTarget, service: Described) -> CapacityReading | ActuationError:
    if isinstance(service, ClientError | BotoCoreError):
        message = f"cannot describe ECS service {target.cluster}/{target.service}: {explained(service, target)}"
        return caused(ActuationError(message), service)
    if service is None:
        return ActuationError(f"ECS service {target.cluster}/{target.service} does not exist or is not ACTIVE")
    return CapacityReading(
        current=service["desiredCount"],
        serving=service.get("runningCount", 0),
        scale_in_suspended=deployment_in_progress(service),
        details={
            "cluster": target.cluster,
            "service": target.service,
            "running": service.get("runningCount", 0),
            "pending": service.get("pendingCount", 0),
            "deployments": len(_running_deployments(service)),
        },
    )
