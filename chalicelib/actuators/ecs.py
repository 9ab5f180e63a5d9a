"""ECS service actuator: UpdateService desiredCount (Fargate or EC2 launch type alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.actuators.base import Actuation
from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.targets import EcsTarget, TargetBase

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


class EcsActuator:
    def __init__(self, client: ECSClient) -> None:
        self._client = client

    def read(self, target: TargetBase) -> CapacityReading:
        assert isinstance(target, EcsTarget)
        try:
            response = self._client.describe_services(cluster=target.cluster, services=[target.service])
        except (ClientError, BotoCoreError) as exc:
            raise ActuationError(f"cannot describe ECS service {target.cluster}/{target.service}: {exc}") from exc
        services = [s for s in response.get("services", []) if s.get("status") == "ACTIVE"]
        if not services:
            raise ActuationError(f"ECS service {target.cluster}/{target.service} does not exist or is not ACTIVE")
        service = services[0]
        return CapacityReading(
            current=service["desiredCount"],
            serving=service.get("runningCount", 0),
            details={
                "cluster": target.cluster,
                "service": target.service,
                "running": service.get("runningCount", 0),
                "pending": service.get("pendingCount", 0),
            },
        )

    def apply(self, target: TargetBase, capacity: int, decision_id: str) -> Actuation:
        assert isinstance(target, EcsTarget)
        try:
            self._client.update_service(cluster=target.cluster, service=target.service, desiredCount=capacity)
        except (ClientError, BotoCoreError) as exc:
            raise ActuationError(
                f"UpdateService({target.cluster}/{target.service}, desiredCount={capacity}) failed: {exc}"
            ) from exc
        return Actuation(note=f"set desiredCount of {target.cluster}/{target.service} to {capacity}")
