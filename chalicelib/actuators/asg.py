"""EC2 Auto Scaling Group actuator: SetDesiredCapacity within the group's own MinSize/MaxSize."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.access_errors import caused, explained
from chalicelib.actuators.base import Actuation, read_one
from chalicelib.actuators.described import Described, describe_groups
from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.signals import ResourceBounds
from chalicelib.models.targets import AsgTarget, TargetBase

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient


class AsgActuator:
    def __init__(self, client: AutoScalingClient, acting: Callable[[str], AutoScalingClient] | None = None) -> None:
        """``acting``: the client a decision's change is made with, by decision id (another account's role
        session named after it, docs/multi-account.md); by default the reading client."""
        self._client = client
        self._acting = acting or (lambda _: client)

    def read(self, target: TargetBase) -> CapacityReading:
        return read_one(self, target)

    def read_many(self, targets: Sequence[TargetBase]) -> dict[str, CapacityReading | ActuationError]:
        """Each target's reading (or why it could not be read), 100 groups per DescribeAutoScalingGroups."""
        groups = [t for t in targets if isinstance(t, AsgTarget)]
        assert len(groups) == len(targets)
        described = describe_groups(self._client, (t.asg_name for t in groups))
        return {t.id: _reading(t, described[t.asg_name]) for t in groups}

    def apply(self, target: TargetBase, capacity: int, decision_id: str) -> Actuation:
        assert isinstance(target, AsgTarget)
        try:
            # HonorCooldown=False: Marea's engine already applied its own, explained cooldowns.
            self._acting(decision_id).set_desired_capacity(
                AutoScalingGroupName=target.asg_name, DesiredCapacity=capacity, HonorCooldown=False
            )
        except (ClientError, BotoCoreError) as exc:
            raise ActuationError(
                f"SetDesiredCapacity({target.asg_name}, {capacity}) failed: {explained(exc, target)}"
            ) from exc
        return Actuation(note=f"set desired capacity of {target.asg_name} to {capacity}")


def _reading(target: AsgTarget, group: Described) -> CapacityReading | ActuationError:
    if isinstance(group, ClientError | BotoCoreError):
        return caused(
            ActuationError(f"cannot describe Auto Scaling group {target.asg_name!r}: {explained(group, target)}"), group
        )
    if group is None:
        return ActuationError(f"Auto Scaling group {target.asg_name!r} does not exist")
    in_service = sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")
    return CapacityReading(
        current=group["DesiredCapacity"],
        serving=in_service,
        bounds=ResourceBounds(min=group["MinSize"], max=group["MaxSize"]),
        details={"asg_name": target.asg_name, "in_service": in_service},
    )
