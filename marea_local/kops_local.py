"""A kops cluster in the embedded AWS, and the kops runner run locally where Fargate would run it.

moto's ECS never starts a container, so `make demo` and the integration tests run the runner's
entrypoint (`python -m kops_runner`) as a local process instead, with the kops test double
(`kops_runner/testing/kops_double.py`) as its `kops`. The state store and the Auto Scaling group
it works on are the ones `seed_kops_cluster` lays out in moto's S3 and Auto Scaling, the way kops
itself lays them out.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from marea_local.demo_resources import DEMO_AMI, default_network

ROOT = Path(__file__).resolve().parent.parent
KOPS_DOUBLE = ROOT / "kops_runner" / "testing" / "kops_double.py"
# The kops release the runner image pins (kops_runner/Dockerfile) and the double imitates.
KOPS_VERSION = "1.36.2"
KUBERNETES_VERSION = "1.33.4"
RUNNER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class SeededInstanceGroup:
    bucket: str
    cluster: str
    instance_group: str
    asg_name: str

    @property
    def state_store(self) -> str:
        return f"s3://{self.bucket}"

    def runner_environment(
        self,
        *,
        decision_id: str,
        min_size: int,
        max_size: int,
        apply: bool = False,
        decisions_table: str | None = None,
    ) -> dict[str, str]:
        """The container overrides Marea's RunTask would pass, for `run_runner_locally`."""
        env = {
            "KOPS_CLUSTER_NAME": self.cluster,
            "KOPS_STATE_STORE": self.state_store,
            "MAREA_IG_NAME": self.instance_group,
            "MAREA_MIN_SIZE": str(min_size),
            "MAREA_MAX_SIZE": str(max_size),
            "MAREA_DECISION_ID": decision_id,
            "MAREA_APPLY": "true" if apply else "false",
        }
        if decisions_table:
            env["MAREA_DECISIONS_TABLE"] = decisions_table
        return env


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


def run_runner_locally(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Run `python -m kops_runner` as Fargate would; returns (exit code, the JSON outcome it printed).

    The child gets this process's environment (AWS_ENDPOINT_URL and credentials of the embedded
    AWS, MAREA_DECISIONS_TABLE if set) overlaid with `env`; KOPS_BINARY defaults to the test double.
    """
    with tempfile.TemporaryDirectory(prefix="marea-kops-") as scratch:
        environment = {**os.environ, "KOPS_BINARY": str(kops_double_executable(Path(scratch))), **env}
        result = subprocess.run(
            [sys.executable, "-m", "kops_runner"],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=RUNNER_TIMEOUT_S,
            check=False,
        )
    outcome = _outcome_line(result.stdout)
    if outcome is None:
        raise RuntimeError(f"kops runner printed no outcome (exit {result.returncode}): {result.stderr[-3000:]}")
    return result.returncode, outcome


def kops_double_executable(directory: Path) -> Path:
    """A `kops` that runs the double with this interpreter (whose site-packages has boto3 and PyYAML)."""
    path = directory / "kops"
    path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(KOPS_DOUBLE))} "$@"\n')
    path.chmod(0o755)
    return path


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
