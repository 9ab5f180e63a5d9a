"""kops instance-group actuator: reads the ASG kops owns, resizes through a kops runner task.

Why not SetDesiredCapacity/UpdateAutoScalingGroup: kops owns the group's MinSize/MaxSize and
resets them to the instance group's spec on the next `kops update cluster`. So Marea changes the
instance group itself, the way an operator would: it starts the kops runner on Fargate (RunTask),
and the change completes when the runner's task stops (an ECS Task State Change event).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.actuators.base import Actuation, read_one
from chalicelib.actuators.described import Described, describe_groups
from chalicelib.constants import RUNNER_DECISION_VARIABLE, RUNNER_TASK_GROUP
from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.runner import KopsRunner
from chalicelib.models.targets import KopsSizing, KopsTarget, TargetBase

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ecs import ECSClient


def instance_group_sizes(target: KopsTarget, capacity: int) -> tuple[int, int]:
    """(minSize, maxSize) for a capacity under the target's sizing mode."""
    if target.sizing is KopsSizing.PINNED:
        return capacity, capacity
    return capacity, max(capacity, target.max)


def may_have_started(error: ClientError | BotoCoreError) -> bool:
    """Whether a RunTask that failed as seen from here may still have started its task.

    An attempt whose answer never came (a timeout, a reset connection) or was a server error may have
    run, and so may any attempt before a retried one. Only an error ECS answered at once from the
    client side (4xx, not retried: validation, permissions, throttling) says that nothing started.
    """
    if not isinstance(error, ClientError):
        return True
    metadata = error.response.get("ResponseMetadata", {})
    return int(metadata.get("RetryAttempts", 0)) > 0 or int(metadata.get("HTTPStatusCode", 500)) >= 500


NO_RUNNER = (
    "this stage runs no kops runner: set MAREA_KOPS_RUNNER_CLUSTER, MAREA_KOPS_RUNNER_TASK_DEFINITION, "
    "MAREA_KOPS_RUNNER_SUBNETS and MAREA_KOPS_RUNNER_SECURITY_GROUPS in the stage's environment"
)


class KopsActuator:
    def __init__(self, autoscaling: AutoScalingClient, ecs: ECSClient, runner: KopsRunner | None) -> None:
        self._autoscaling = autoscaling
        self._ecs = ecs
        self._runner = runner  # the stage's (settings.kops_runner), never the target's

    def _placement(self) -> KopsRunner:
        if self._runner is None:
            raise ActuationError(NO_RUNNER)
        return self._runner

    def read(self, target: TargetBase) -> CapacityReading:
        return read_one(self, target)

    def read_many(self, targets: Sequence[TargetBase]) -> dict[str, CapacityReading | ActuationError]:
        """Each target's reading (or why it could not be read), 100 groups per DescribeAutoScalingGroups."""
        groups = [t for t in targets if isinstance(t, KopsTarget)]
        assert len(groups) == len(targets)
        described = describe_groups(self._autoscaling, (t.asg_name for t in groups))
        return {t.id: _reading(t, described[t.asg_name]) for t in groups}

    def runner_request(self, target: TargetBase, capacity: int, deadline: datetime) -> dict[str, str | int]:
        """The runner's whole request, which it reads from the decision (kops_runner/README.md): its caller passes it
        only the decision id, so that a RunTask's overrides can never choose what the runner does."""
        assert isinstance(target, KopsTarget)
        min_size, max_size = instance_group_sizes(target, capacity)
        return {
            "target_kind": target.kind,
            "cluster": target.cluster_name,
            "state_store": target.state_store,
            "instance_group": target.instance_group,
            "min_size": min_size,
            "max_size": max_size,
            # The runner gives up before its lease expires, so a runner Marea stopped waiting for never
            # changes the instance group after another has started (docs/aws-semantics.md, kops).
            "deadline": deadline.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def start(self, target: TargetBase, capacity: int, decision_id: str, deadline: datetime) -> Actuation:
        assert isinstance(target, KopsTarget)
        runner = self._placement()
        min_size, max_size = instance_group_sizes(target, capacity)
        kwargs: Any = {
            "cluster": runner.ecs_cluster,
            "taskDefinition": runner.task_definition,
            "launchType": "FARGATE",
            "count": 1,
            "clientToken": decision_id,  # a retried RunTask whose first answer was lost starts no second runner
            "group": RUNNER_TASK_GROUP,
            "startedBy": decision_id,  # the task-state event carries it back to the decision
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": list(runner.subnets),
                    "securityGroups": list(runner.security_groups),
                    "assignPublicIp": "ENABLED" if runner.assign_public_ip else "DISABLED",
                }
            },
            "overrides": {
                "containerOverrides": [
                    {
                        "name": runner.container_name,
                        # The one override the runner accepts: it refuses a task whose overrides hold anything else.
                        "environment": [{"name": RUNNER_DECISION_VARIABLE, "value": decision_id}],
                    }
                ]
            },
        }
        try:
            response = self._ecs.run_task(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            if not may_have_started(exc):
                raise ActuationError(f"RunTask of the kops runner failed: {exc}") from exc
            again = self._ask_again(kwargs)
            if again is None:
                # It may be running: started, not failed, so that it holds the lease and no other runner
                # starts before it reports or its lease (and so its deadline) has passed.
                return Actuation(
                    note=(
                        f"RunTask of the kops runner to set {target.instance_group} minSize={min_size} "
                        f"maxSize={max_size} reported an error after an attempt that may have started it "
                        f"({exc}); its lease holds until its task reports or the lease expires"
                    ),
                    pending=True,
                )
            response = again
        if response.get("failures") or not response.get("tasks"):
            reasons = "; ".join(
                f"{f.get('arn', '')} {f.get('reason', '')}".strip() for f in response.get("failures", [])
            )
            raise ActuationError(f"RunTask of the kops runner started no task: {reasons or 'no reason given'}")
        task_arn = response["tasks"][0]["taskArn"]
        return Actuation(
            note=f"kops runner started to set {target.instance_group} minSize={min_size} maxSize={max_size}",
            pending=True,
            reference=task_arn,
        )

    def _ask_again(self, kwargs: Any) -> Any:
        """RunTask once more with the same client token and parameters, after a call that may have started the
        task: ECS answers with the task that call started, or starts it now (docs/aws-semantics.md, kops).
        None when this call fails too: whether a task runs is still unknown."""
        try:
            return self._ecs.run_task(**kwargs)
        except (ClientError, BotoCoreError):
            return None

    def stop(self, target: TargetBase, reference: str, reason: str) -> None:
        assert isinstance(target, KopsTarget)
        cluster = self._placement().ecs_cluster
        try:
            self._ecs.stop_task(cluster=cluster, task=reference, reason=reason[:255])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "InvalidParameterException" and "not found" in str(exc).lower():
                return  # gone already: it stopped on its own and ECS no longer knows it
            raise ActuationError(f"StopTask of the kops runner {reference} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise ActuationError(f"StopTask of the kops runner {reference} failed: {exc}") from exc


def _reading(target: KopsTarget, group: Described) -> CapacityReading | ActuationError:
    if isinstance(group, ClientError | BotoCoreError):
        return ActuationError(
            f"cannot describe the ASG {target.asg_name!r} of instance group {target.instance_group}: {group}"
        )
    if group is None:
        return ActuationError(f"instance group {target.instance_group}: its ASG {target.asg_name!r} does not exist")
    in_service = sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")
    # No resource bounds: the group's MinSize/MaxSize are what Marea changes (through kops).
    return CapacityReading(
        current=group["DesiredCapacity"],
        serving=in_service,
        details={
            "asg_name": target.asg_name,
            "asg_min": group["MinSize"],
            "asg_max": group["MaxSize"],
            "in_service": in_service,
        },
    )
