"""A kops cluster in the embedded AWS, and the kops runner run locally where Fargate would run it.

moto's ECS never starts a container, so `make demo` and the integration tests run the runner as a
local process instead (`kops_runner/testing/local_entry.py`: the production `run.main` for a task
named on its command line), with the kops test double (`kops_runner/testing/kops_double.py`) as its
`kops`. The state store and the Auto Scaling group
it works on are the ones `seed_kops_cluster` lays out in moto's S3 and Auto Scaling, the way kops
itself lays them out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

from marea_local.demo_resources import DEMO_AMI, default_network

ROOT = Path(__file__).resolve().parent.parent
# The kops release the runner image pins (kops_runner/Dockerfile) and the double imitates.
KOPS_VERSION = "1.36.2"
KUBERNETES_VERSION = "1.33.4"
RUNNER_TIMEOUT_S = 120.0

# (the task, the AWS calls its runner and kops made) → None; registered by the tests (tests/infra/runner_guard.py).
RunnerCallsObserver = Callable[[dict[str, Any], list[dict[str, Any]]], None]
_observers: list[RunnerCallsObserver] = []


@contextmanager
def observing_runner_calls(observer: RunnerCallsObserver) -> Iterator[None]:
    """While active, each run_runner_locally records the runner's and the kops double's AWS calls and hands them
    to ``observer``; the innermost observer only (a test checking the guard itself takes the calls over)."""
    _observers.append(observer)
    try:
        yield
    finally:
        _observers.remove(observer)


@dataclass(frozen=True)
class SeededInstanceGroup:
    bucket: str
    cluster: str
    instance_group: str
    asg_name: str

    @property
    def state_store(self) -> str:
        return f"s3://{self.bucket}"


def seed_kops_cluster(
    s3: Any,
    autoscaling: Any,
    ec2: Any,
    bucket: str,
    cluster: str,
    ig: str,
    min_size: int,
    max_size: int,
    role: str = "Node",
) -> SeededInstanceGroup:
    """Lay out a kops cluster's state store and one instance group with its ASG, as kops would.

    Call again with another `ig` to add groups to the same cluster; the bucket and cluster spec
    are created only once.
    """
    _ensure_bucket(s3, bucket)
    if not _exists(s3, bucket, f"{cluster}/config"):
        _put(s3, bucket, f"{cluster}/config", yaml.safe_dump(_cluster_spec(bucket, cluster), sort_keys=True))
        _put(s3, bucket, f"{cluster}/kops-version.txt", KOPS_VERSION)
    _put(
        s3,
        bucket,
        f"{cluster}/instancegroup/{ig}",
        yaml.safe_dump(_instance_group(cluster, ig, role, min_size, max_size), sort_keys=True),
    )
    asg_name = f"{ig}.masters.{cluster}" if role in ("ControlPlane", "Master") else f"{ig}.{cluster}"
    _create_asg(autoscaling, ec2, asg_name, cluster, ig, role, min_size, max_size)
    return SeededInstanceGroup(bucket=bucket, cluster=cluster, instance_group=ig, asg_name=asg_name)


def run_runner_locally(
    task: dict[str, Any],
    *,
    double_env: Mapping[str, str] | None = None,
    clock_ahead_s: float = 0.0,
    record_kops_env: Path | None = None,
) -> tuple[int, dict[str, Any]]:
    """Run the runner for ``task`` (as ECS DescribeTasks shows it) where Fargate would; returns (exit code, the JSON
    outcome it printed).

    The process is `python -I` running kops_runner.testing.local_entry (the production `run.main` with the task
    named instead of read from the metadata endpoint, and the kops double); its environment is what ECS would
    give the container: the task definition's variables with the task's overrides over them. ``double_env``: the
    double's test controls (KOPS_DOUBLE_FAIL...); ``clock_ahead_s``: how far the caller's clock runs ahead of the
    wall clock (the runner's deadline is on the caller's clock).
    """
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    container = next((c["name"] for c in task.get("containers", []) if "name" in c), "kops-runner")
    argv = ["--task-arn", task["taskArn"], "--cluster", task["clusterArn"], "--container", container]
    argv += ["--endpoint-url", endpoint, "--clock-ahead-s", str(clock_ahead_s)]
    argv += [arg for name, value in (double_env or {}).items() for arg in ("--double-env", f"{name}={value}")]
    if record_kops_env is not None:
        argv += ["--record-kops-env", str(record_kops_env)]
    with tempfile.TemporaryDirectory(prefix="marea-runner-calls-") as scratch:
        calls = Path(scratch) / "aws-calls.jsonl"
        if _observers:
            argv += ["--record-aws-calls", str(calls)]
        result = subprocess.run(  # noqa: S603 (this interpreter, the repository's testing entry, arguments from ECS)
            [sys.executable, "-I", "-c", _LOCAL_ENTRY, *argv],
            cwd=ROOT,
            env=container_environment(task, container),
            capture_output=True,
            text=True,
            timeout=RUNNER_TIMEOUT_S,
            check=False,
        )
        if _observers:
            recorded = calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []
            _observers[-1](task, [json.loads(line) for line in recorded])
    outcome = _outcome_line(result.stdout)
    if outcome is None:
        raise RuntimeError(f"kops runner printed no outcome (exit {result.returncode}): {result.stderr[-3000:]}")
    return result.returncode, outcome


# `python -I` puts neither the working directory nor PYTHONPATH on sys.path: the repository is added by hand.
_LOCAL_ENTRY = (
    f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
    "from kops_runner.testing.local_entry import main; raise SystemExit(main(sys.argv[1:]))"
)


def container_environment(task: dict[str, Any], container: str) -> dict[str, str]:
    """The environment ECS gives the container: its task definition's variables, the task's overrides over them."""
    ecs: Any = boto3.client("ecs", region_name=task["taskArn"].split(":")[3])
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
    registered: dict[str, Any] = next((c for c in definition["containerDefinitions"] if c["name"] == container), {})
    overrides: dict[str, Any] = next(
        (o for o in task.get("overrides", {}).get("containerOverrides", []) if o.get("name") == container), {}
    )
    return {
        pair["name"]: pair["value"] for pair in [*registered.get("environment", []), *overrides.get("environment", [])]
    }


def _outcome_line(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None


def _ensure_bucket(s3: Any, bucket: str) -> None:
    names = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
    if bucket not in names:
        s3.create_bucket(Bucket=bucket)


def _exists(s3: Any, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0))


def _put(s3: Any, bucket: str, key: str, text: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))


def _cluster_spec(bucket: str, cluster: str) -> dict[str, Any]:
    return {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "Cluster",
        "metadata": {"name": cluster},
        "spec": {
            "cloudProvider": {"aws": {}},
            "configBase": f"s3://{bucket}/{cluster}",
            "kubernetesVersion": KUBERNETES_VERSION,
            "networkCIDR": "172.20.0.0/16",
            "subnets": [{"name": "us-east-1a", "type": "Public", "zone": "us-east-1a", "cidr": "172.20.32.0/19"}],
        },
    }


def _instance_group(cluster: str, ig: str, role: str, min_size: int, max_size: int) -> dict[str, Any]:
    return {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "InstanceGroup",
        "metadata": {"name": ig, "labels": {"kops.k8s.io/cluster": cluster}},
        "spec": {
            "image": "099720109477/ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610",
            "machineType": "t3.medium",
            "minSize": min_size,
            "maxSize": max_size,
            "role": role,
            "subnets": ["us-east-1a"],
        },
    }


def _create_asg(
    autoscaling: Any, ec2: Any, name: str, cluster: str, ig: str, role: str, min_size: int, max_size: int
) -> None:
    network = default_network(ec2)
    ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": DEMO_AMI, "InstanceType": "t3.medium"}
    )
    # The tags kops puts on an instance group's ASG; Marea finds a kops target's capacity through them.
    tags = {
        "KubernetesCluster": cluster,
        "kops.k8s.io/instancegroup": ig,
        "Name": name,
        f"k8s.io/role/{'control-plane' if role in ('ControlPlane', 'Master') else role.lower()}": "1",
    }
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        MinSize=min_size,
        MaxSize=max_size,
        # kops sets DesiredCapacity only when it creates the group (to minSize), never afterwards.
        DesiredCapacity=min_size,
        VPCZoneIdentifier=",".join(network.subnet_ids),
        Tags=[
            {
                "Key": key,
                "Value": value,
                "ResourceId": name,
                "ResourceType": "auto-scaling-group",
                "PropagateAtLaunch": True,
            }
            for key, value in tags.items()
        ],
    )
