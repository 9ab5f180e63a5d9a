"""Fixtures for the kops runner: its own embedded AWS (moto server on 127.0.0.1) with a seeded kops cluster.

The kops binary cannot be installed here; `kops` is the test double in kops_runner/testing.
The cluster is seeded once per session and put back before each test (the instance group
objects, kops-version.txt and the ASGs' sizes are all a runner or kops can change); the
environment is set per test (monkeypatch) so it never leaks into other test packages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from ulid import ULID

from marea_local.data_stack import create_data_stack
from marea_local.embedded_aws import REGION, EmbeddedAws, start_embedded_aws
from marea_local.kops_local import KOPS_VERSION, SeededInstanceGroup, kops_double_executable, seed_kops_cluster

BUCKET = "kops-state-store"
CLUSTER = "k8s.example.com"
NODES = "nodes-us-east-1a"
CONTROL_PLANE = "control-plane-us-east-1a"
SEEDED_SIZES = {NODES: (2, 2), CONTROL_PLANE: (1, 1)}

# Every variable the runner or the double reads: cleared so the outer environment cannot steer a test.
RUNNER_VARIABLES = (
    "KOPS_CLUSTER_NAME",
    "KOPS_STATE_STORE",
    "MAREA_IG_NAME",
    "MAREA_MIN_SIZE",
    "MAREA_MAX_SIZE",
    "MAREA_DECISION_ID",
    "MAREA_DECISIONS_TABLE",
    "MAREA_APPLY",
    "MAREA_DEADLINE",
    "MAREA_MAX_NODES",
    "MAREA_KOPS_TIMEOUT_S",
    "MAREA_VERIFY_ATTEMPTS",
    "MAREA_VERIFY_INTERVAL_S",
    "KOPS_BINARY",
    "KOPS_DOUBLE_FAIL",
    "KOPS_DOUBLE_VERSION",
)


@dataclass
class KopsWorld:
    s3: Any
    autoscaling: Any
    ec2: Any
    dynamodb: Any
    sqs: Any
    kops: Path
    groups: dict[str, SeededInstanceGroup] = field(default_factory=dict)
    originals: dict[str, bytes] = field(default_factory=dict)
    decisions_table: str = ""

    def seed(self) -> None:
        """A kops cluster with a node group (2..2) and a control-plane group (1..1), and a decision log."""
        self.decisions_table = create_data_stack(self.dynamodb, self.sqs, stage="kops").decisions_table
        clients = (self.s3, self.autoscaling, self.ec2)
        self.groups = {
            NODES: seed_kops_cluster(*clients, BUCKET, CLUSTER, NODES, *SEEDED_SIZES[NODES]),
            CONTROL_PLANE: seed_kops_cluster(
                *clients, BUCKET, CLUSTER, CONTROL_PLANE, *SEEDED_SIZES[CONTROL_PLANE], role="ControlPlane"
            ),
        }
        keys = [f"{CLUSTER}/instancegroup/{name}" for name in self.groups] + [f"{CLUSTER}/kops-version.txt"]
        self.originals = {key: self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}

    def intact(self) -> bool:
        """moto's state is per process: another package's fixture may have reset it since the seeding."""
        tables = self.dynamodb.list_tables()["TableNames"]
        groups = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.nodes.asg_name])
        return self.decisions_table in tables and bool(groups["AutoScalingGroups"])

    @property
    def nodes(self) -> SeededInstanceGroup:
        return self.groups[NODES]

    @property
    def control_plane(self) -> SeededInstanceGroup:
        return self.groups[CONTROL_PLANE]

    def restore(self) -> None:
        for key, body in self.originals.items():
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        for name, group in self.groups.items():
            low, high = SEEDED_SIZES[name]
            self.autoscaling.update_auto_scaling_group(
                AutoScalingGroupName=group.asg_name, MinSize=low, MaxSize=high, DesiredCapacity=low
            )

    def new_decision(self) -> str:
        decision_id = str(ULID())
        self.dynamodb.put_item(TableName=self.decisions_table, Item={"id": {"S": decision_id}})
        return decision_id

    def runner_env(self, min_size: int, max_size: int, *, apply: bool, ig: str = NODES, **extra: str) -> dict[str, str]:
        return {
            "KOPS_CLUSTER_NAME": CLUSTER,
            "KOPS_STATE_STORE": f"s3://{BUCKET}",
            "MAREA_IG_NAME": ig,
            "MAREA_MIN_SIZE": str(min_size),
            "MAREA_MAX_SIZE": str(max_size),
            "MAREA_DECISION_ID": self.new_decision(),
            "MAREA_DECISIONS_TABLE": self.decisions_table,
            "MAREA_APPLY": "true" if apply else "false",
            "KOPS_BINARY": str(self.kops),
            "MAREA_VERIFY_INTERVAL_S": "0",
            **extra,
        }

    def asg_sizes(self, name: str | None = None) -> tuple[int, int]:
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name or self.nodes.asg_name])
        found = group["AutoScalingGroups"][0]
        return found["MinSize"], found["MaxSize"]

    def ig_document(self, ig: str = NODES) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=BUCKET, Key=f"{CLUSTER}/instancegroup/{ig}")["Body"].read()
        document: dict[str, Any] = yaml.safe_load(body)
        return document

    def ig_sizes(self, ig: str = NODES) -> tuple[int, int]:
        spec = self.ig_document(ig)["spec"]
        return spec["minSize"], spec["maxSize"]

    def runner_result(self, decision_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.decisions_table, Key={"id": {"S": decision_id}}).get("Item")
        if item is None or "runner_result" not in item:
            return None
        result: dict[str, Any] = json.loads(item["runner_result"]["S"])
        return result


@pytest.fixture(scope="session")
def kops_embedded_aws() -> Iterator[EmbeddedAws]:
    server = start_embedded_aws()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def seeded_world(kops_embedded_aws: EmbeddedAws, tmp_path_factory: pytest.TempPathFactory) -> KopsWorld:
    settings: dict[str, Any] = {
        "endpoint_url": kops_embedded_aws.url,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    world = KopsWorld(
        s3=boto3.client("s3", **settings),
        autoscaling=boto3.client("autoscaling", **settings),
        ec2=boto3.client("ec2", **settings),
        dynamodb=boto3.client("dynamodb", **settings),
        sqs=boto3.client("sqs", **settings),
        kops=kops_double_executable(tmp_path_factory.mktemp("kops")),
    )
    world.seed()
    assert world.originals[f"{CLUSTER}/kops-version.txt"] == KOPS_VERSION.encode()
    return world


@pytest.fixture
def world(seeded_world: KopsWorld, kops_embedded_aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> KopsWorld:
    """The seeded cluster as seeded, and this process's environment pointing at its embedded AWS."""
    for name in RUNNER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in kops_embedded_aws.environment().items():
        monkeypatch.setenv(name, value)
    if seeded_world.intact():
        seeded_world.restore()
    else:
        seeded_world.seed()
    return seeded_world
