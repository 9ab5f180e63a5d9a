"""EC2 Auto Scaling Group actuator: SetDesiredCapacity within the group's own MinSize/MaxSize."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.actuators.base import Actuation
from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.signals import ResourceBounds
from chalicelib.models.targets import AsgTarget, TargetBase

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient


class AsgActuator:
    def __init__(self, client: AutoScalingClient) -> None:
        self._client = client

    def read(self, target: TargetBase) -> CapacityReading:
        assert isinstance(target, AsgTarget)
        try:
            groups = self._client.describe_auto_scaling_groups(AutoScalingGroupNames=[target.asg_name])[
                "AutoScalingGroups"
            ]
        except (ClientError, BotoCoreError) as exc:
            raise ActuationError(f"cannot describe Auto Scaling group {target.asg_name!r}: {exc}") from exc
        if not groups:
            raise ActuationError(f"Auto Scaling group {target.asg_name!r} does not exist")
        group = groups[0]
        in_service = sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")
        return CapacityReading(
            current=group["DesiredCapacity"],
            serving=in_service,
            bounds=ResourceBounds(min=group["MinSize"], max=group["MaxSize"]),
            details={"asg_name": target.asg_name, "in_service": in_service},
        )

    def apply(self, target: TargetBase, capacity: int, decision_id: str) -> Actuation:
        assert isinstance(target, AsgTarget)
        try:
            # HonorCooldown=False: Marea's engine already applied its own, explained cooldowns.
            self._client.set_desired_capacity(
                AutoScalingGroupName=target.asg_name, DesiredCapacity=capacity, HonorCooldown=False
            )
        except (ClientError, BotoCoreError) as exc:
            raise ActuationError(f"SetDesiredCapacity({target.asg_name}, {capacity}) failed: {exc}") from exc
        return Actuation(note=f"set desired capacity of {target.asg_name} to {capacity}")
