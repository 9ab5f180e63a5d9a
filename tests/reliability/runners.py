"""kops targets in the reliability scenarios: their world, runners run on simulated time, a witness of every RunTask.

The runner is the real one (``python -m kops_runner`` against the kops test double and the embedded
AWS's S3 and Auto Scaling), run by marea_local.local_fargate.LocalFargate where Fargate would run it.
The evaluator's clock is simulated, so that leases expire without waiting; the runner reads the wall
clock, so it runs with its clock moved as far ahead as the simulated one (the testing entry's --clock-ahead-s).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import boto3
import yaml

from marea_local.kops_local import run_runner_locally, seed_kops_cluster
from tests.reliability.embedded import STAGE
from tests.reliability.world import ALARM_THRESHOLD, alarm_name, minute, register

KOPS_TARGET = "nodes"
CLUSTER_NAME = "demo.k8s.local"
INSTANCE_GROUP = "nodes"
GROUP = f"{INSTANCE_GROUP}.{CLUSTER_NAME}"  # the Auto Scaling group kops made for the instance group
BUCKET = "marea-kops-state"
RUNNER_TIMEOUT_S = 120  # the lease: two rounds of the kops scenario
HIGH = 10


@dataclass
class SimulatedClock:
    """The evaluator's clock in the kops scenario: moved by the scenario, never backwards."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def ahead_s(self) -> float:
        """How far the simulated clock runs ahead of the wall clock."""
        return (self.now - datetime.now(UTC)).total_seconds()


def kops_body(**overrides: Any) -> dict[str, Any]:
    """A pinned kops target on the group's CPU (target tracking at 50 %) and its CPU alarm (one step up); act mode."""
    body: dict[str, Any] = {
        "id": KOPS_TARGET,
        "kind": "kops",
        "cluster_name": CLUSTER_NAME,
        "instance_group": INSTANCE_GROUP,
        "state_store": f"s3://{BUCKET}",
        "sizing": "pinned",
        "runner_timeout_s": RUNNER_TIMEOUT_S,
        "min": 1,
        "max": HIGH,
        "mode": "act",
        "scale_in_stabilization_s": 0,
        "policies": [
            {
                "type": "target_tracking",
                "name": "cpu",
                "metric": {
                    "type": "custom",
                    "namespace": "AWS/EC2",
                    "metric_name": "CPUUtilization",
                    "dimensions": {"AutoScalingGroupName": GROUP},
                },
                "target_value": 50,
                "scale_out_datapoints": 1,  # short windows: the load changes every few minutes, so does the size
                "scale_in_datapoints": 2,
                "scale_out_cooldown_s": 0,
            },
            {
                "type": "step",
                "name": "burst",
                "alarm_name": alarm_name(GROUP),
                "adjustment_type": "change_in_capacity",
                "steps": [{"lower_bound": 0, "adjustment": 1}],
                "cooldown_s": 0,
            },
        ],
    }
    body.update(overrides)
    return body


def build_kops_world(clients: dict[str, Any]) -> dict[str, Any]:
    """An instance group of 2 (state store in S3, its ASG), its CPU alarm, the runner cluster (set as the
    stage's runner settings), the target; returns where the runner runs."""
    from marea_local.demo_resources import create_kops_runner_cluster, put_alarm, runner_environment
    from tests.reliability.embedded import forget_wiring

    seed_kops_cluster(
        boto3.client("s3"), clients["autoscaling"], clients["ec2"], BUCKET, CLUSTER_NAME, INSTANCE_GROUP, 2, 2
    )
    dimensions = {"AutoScalingGroupName": GROUP}
    put_alarm(
        clients["cloudwatch"], alarm_name(GROUP), namespace="AWS/EC2", metric_name="CPUUtilization",
        dimensions=dimensions, threshold=ALARM_THRESHOLD,
    )  # fmt: skip
    runner = create_kops_runner_cluster(
        clients["ec2"],
        clients["ecs"],
        stage=STAGE,
        kops_cluster=CLUSTER_NAME,
        state_store=f"s3://{BUCKET}",
        instance_groups=[INSTANCE_GROUP],
    )
    os.environ.update(runner_environment(runner))
    forget_wiring()
    register(kops_body())
    return runner


def publish_cpu(clients: dict[str, Any], at: datetime, value: float) -> None:
    """The group's CPU for the minute of ``at``."""
    clients["cloudwatch"].put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": GROUP}],
                "Timestamp": minute(at),
                "Value": value,
            }
        ],
    )


def set_alarm(clients: dict[str, Any], recent: list[float]) -> float:
    """The alarm's state from the last 2 minutes (2 of 2 above the threshold: ALARM), set in CloudWatch
    (moto evaluates no alarm); returns the value that decides it, for the alarm event."""
    deciding = min(recent[-2:])
    state = "ALARM" if deciding > ALARM_THRESHOLD else "OK"
    clients["cloudwatch"].set_alarm_state(AlarmName=alarm_name(GROUP), StateValue=state, StateReason="the scenario")
    return deciding


def runner_on(clock: SimulatedClock) -> Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]:
    """run_runner_locally with the runner's clock on the simulated one: a runner run after its deadline (set on
    the simulated clock) finds it passed, as it would on Fargate."""

    def run(task: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return run_runner_locally(task, clock_ahead_s=clock.ahead_s())

    return run


def instance_group_sizes() -> tuple[int, int]:
    """(minSize, maxSize) of the instance group in the state store."""
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"{CLUSTER_NAME}/instancegroup/{INSTANCE_GROUP}")["Body"]
    spec = yaml.safe_load(body.read())["spec"]
    return int(spec["minSize"]), int(spec["maxSize"])


def group_sizes(clients: dict[str, Any]) -> tuple[int, int, int]:
    """(MinSize, MaxSize, DesiredCapacity) of the instance group's Auto Scaling group."""
    [group] = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])["AutoScalingGroups"]
    return int(group["MinSize"]), int(group["MaxSize"]), int(group["DesiredCapacity"])


def runner_tasks(clients: dict[str, Any], cluster: str, desired: str | None = None) -> list[dict[str, Any]]:
    """The runner cluster's tasks (moto lists stopped ones too unless ``desired`` filters them)."""
    filters = {"desiredStatus": desired} if desired else {}
    arns = clients["ecs"].list_tasks(cluster=cluster, **filters)["taskArns"]
    tasks: list[dict[str, Any]] = []
    for start in range(0, len(arns), 100):
        tasks += clients["ecs"].describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
    return tasks


# ---- the witness ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunnerStart:
    """One start of a runner (a call to KopsActuator.start), and the world around it."""

    decision_id: str
    capacity: int
    paused: bool  # the target as registered just before RunTask
    mode: str
    low: int
    high: int
    others_running: tuple[str, ...]  # decisions of other runner tasks still desired RUNNING just after RunTask
    own_tasks: int  # tasks started for this decision, just after RunTask


@dataclass
class RunnerWitness:
    """Wraps KopsActuator.start in every thread of this process. Reads with the test's own clients
    (never faulted, never counted): the target as registered just before RunTask, the runner tasks
    just after it (whether it succeeded or raised: a lost answer may still have started a task)."""

    clients: dict[str, Any]
    cluster: str
    starts: list[RunnerStart] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def installed(self) -> Iterator[RunnerWitness]:
        from chalicelib.actuators.kops import KopsActuator

        start = KopsActuator.start

        def witnessed(actuator: Any, target: Any, capacity: int, decision_id: str, *more: Any) -> Any:
            registered = self._registered()
            try:
                return start(actuator, target, capacity, decision_id, *more)
            finally:
                self._record(registered, decision_id, capacity)

        with patch.object(KopsActuator, "start", witnessed):
            yield self

    def _registered(self) -> Any:
        from chalicelib.settings import get_settings
        from chalicelib.store.targets import TargetRegistry

        settings = get_settings()
        registry = TargetRegistry(self.clients["dynamodb"], settings.targets_table, settings.decisions_table)
        return registry.require(KOPS_TARGET).target

    def _record(self, target: Any, decision_id: str, capacity: int) -> None:
        running = runner_tasks(self.clients, self.cluster, desired="RUNNING")
        every = runner_tasks(self.clients, self.cluster)
        start = RunnerStart(
            decision_id=decision_id,
            capacity=capacity,
            paused=target.paused,
            mode=target.mode.value,
            low=target.min,
            high=target.max,
            others_running=tuple(t["startedBy"] for t in running if t.get("startedBy") != decision_id),
            own_tasks=sum(1 for t in every if t.get("startedBy") == decision_id),
        )
        with self._lock:
            self.starts.append(start)
