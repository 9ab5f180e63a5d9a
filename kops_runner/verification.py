"""After `kops update cluster --yes`: the state store and the Auto Scaling group must both show the new sizes.

kops reconciles only MinSize/MaxSize of a node group's ASG (never DesiredCapacity, which the ASG
clamps into the new range itself), so those two numbers are what is checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kops_runner.errors import VerificationFailed
from kops_runner.kops_cli import KopsCli

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient

    from kops_runner.settings import RunRequest


def verify(
    request: RunRequest,
    kops: KopsCli,
    autoscaling: AutoScalingClient,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Returns a sentence saying what was confirmed; raises VerificationFailed otherwise."""
    wanted = (request.min_size, request.max_size)
    spec = kops.get_instance_group(request.instance_group).spec
    if (spec.min_size, spec.max_size) != wanted:
        raise VerificationFailed(
            f"kops get ig shows minSize {spec.min_size}, maxSize {spec.max_size} after the update, "
            f"expected {wanted[0]}, {wanted[1]}"
        )
    seen = "no such group"
    for attempt in range(request.verify_attempts):
        if attempt:
            left = kops.deadline.left_s()
            if left is not None and left < request.verify_interval_s:
                break  # no time for another read before the deadline
            sleep(request.verify_interval_s)
        sizes = _asg_sizes(autoscaling, request.asg_name)
        if sizes == wanted:
            return f"Auto Scaling group {request.asg_name} has MinSize {wanted[0]}, MaxSize {wanted[1]}"
        if sizes is not None:
            seen = f"MinSize {sizes[0]}, MaxSize {sizes[1]}"
    raise VerificationFailed(
        f"Auto Scaling group {request.asg_name} shows {seen} after {request.verify_attempts} reads, "
        f"expected MinSize {wanted[0]}, MaxSize {wanted[1]}"
    )


def _asg_sizes(autoscaling: AutoScalingClient, name: str) -> tuple[int, int] | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    except (ClientError, BotoCoreError) as error:
        raise VerificationFailed(f"could not read Auto Scaling group {name}: {error}") from error
    if not groups:
        return None
    return groups[0]["MinSize"], groups[0]["MaxSize"]
