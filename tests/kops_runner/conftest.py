"""Fixtures for the kops runner: its own embedded AWS (moto server on 127.0.0.1) with a seeded kops cluster.

The kops binary cannot be installed here; `kops` is the test double in kops_runner/testing.
The cluster is seeded once per session and put back before each test (the instance group
objects, kops-version.txt and the ASGs' sizes are all a runner or kops can change); the
environment is set per test (monkeypatch) so it never leaks into other test packages.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from ulid import ULID

from chalicelib.store.decisions import runner_request_map
from kops_runner import run
from kops_runner.task import TaskIdentity
from kops_runner.testing.local_entry import double_executable, embedded_aws, local
from marea_local.data_stack import create_data_stack
from marea_local.demo_resources import create_kops_runner_cluster, register_kops_runner_task_definition, runner_settings
from marea_local.embedded_aws import REGION, EmbeddedAws, start_embedded_aws
from marea_local.kops_local import KOPS_VERSION, SeededInstanceGroup, seed_kops_cluster
from tests.infra.runner_guard import runner_calls_checked

BUCKET = "kops-state-store"
CLUSTER = "k8s.example.com"
NODES = "nodes-us-east-1a"
CONTROL_PLANE = "control-plane-us-east-1a"
SEEDED_SIZES = {NODES: (2, 2), CONTROL_PLANE: (1, 1)}

RUNNER_CLUSTER = "marea-kops-runner"


def in_s(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class KopsWorld:
    s3: Any
    autoscaling: Any
    dynamodb: Any
    sqs: Any
    ecs: Any
    ec2: Any
    endpoint_url: str
    scratch: Path
    groups: dict[str, SeededInstanceGroup] = field(default_factory=dict)
    runner: dict[str, Any] = field(default_factory=dict)
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
        self.runner = create_kops_runner_cluster(
            self.ec2,
            self.ecs,
            stage="kops",
            kops_cluster=CLUSTER,
            state_store=f"s3://{BUCKET}",
            instance_groups=[NODES, CONTROL_PLANE],
            decisions_table=self.decisions_table,
        )

    def intact(self) -> bool:
        """moto's state is per process: another package's fixture may have reset it since the seeding."""
        tables = self.dynamodb.list_tables()["TableNames"]
        if not self.ecs.list_clusters()["clusterArns"]:
            return False
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

    def new_decision(self, min_size: int, max_size: int, *, outcome: str = "pending", **request: str | int) -> str:
        """A decision as Marea leaves it before RunTask: pending, with its runner_request (actuators/kops.py)."""
        decision_id = str(ULID())
        values: dict[str, str | int] = {
            "target_kind": "kops",
            "cluster": CLUSTER,
            "state_store": f"s3://{BUCKET}",
            "instance_group": NODES,
            "min_size": min_size,
            "max_size": max_size,
            "deadline": in_s(840),
            **request,
        }
        item = {
            "id": {"S": decision_id},
            "outcome": {"S": outcome},
            "runner_request": {"M": runner_request_map(values)},
        }
        self.dynamodb.put_item(TableName=self.decisions_table, Item=item)
        return decision_id

    def pin(self, *, apply: bool = True, **settings: str) -> None:
        """A new revision of the runner's task definition (RunTask takes the newest) pinned to ``settings``."""
        groups = settings.pop("MAREA_INSTANCE_GROUPS", f"{NODES},{CONTROL_PLANE}")
        pinned = runner_settings(CLUSTER, f"s3://{BUCKET}", groups.split(","), self.decisions_table, settings)
        pinned["MAREA_APPLY"] = "true" if apply else "false"
        pinned.setdefault("MAREA_VERIFY_INTERVAL_S", "0")
        register_kops_runner_task_definition(self.ecs, self.runner["task_definition"], pinned)

    def start(self, decision_id: str, *, overrides: list[dict[str, Any]] | None = None, **task: Any) -> dict[str, Any]:
        """RunTask of the runner, as Marea's actuator makes it (only MAREA_DECISION_ID) unless ``overrides`` says."""
        container = overrides or [
            {"name": "kops-runner", "environment": [{"name": "MAREA_DECISION_ID", "value": decision_id}]}
        ]
        started = self.ecs.run_task(
            cluster=self.runner["ecs_cluster"],
            taskDefinition=self.runner["task_definition"],
            launchType="FARGATE",
            count=1,
            startedBy=decision_id,
            group="marea-kops-runner",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": self.runner["subnets"],
                    "securityGroups": self.runner["security_groups"],
                }
            },
            overrides={"containerOverrides": container, **task},
        )
        described: dict[str, Any] = self.ecs.describe_tasks(
            cluster=self.runner["ecs_cluster"], tasks=[started["tasks"][0]["taskArn"]]
        )["tasks"][0]
        return described

    def platform(self, task: dict[str, Any], **double_env: str) -> run.Platform:
        """The runner's platform for ``task`` in this process: the testing entry's, with the kops double."""
        directory = Path(tempfile.mkdtemp(dir=self.scratch))
        kops = double_executable(directory, {**embedded_aws(self.endpoint_url), **double_env})
        identity = TaskIdentity(task["taskArn"], task["clusterArn"], "kops-runner")
        return local(identity, self.endpoint_url, str(kops))

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
        ecs=boto3.client("ecs", **settings),
        endpoint_url=kops_embedded_aws.url,
        scratch=tmp_path_factory.mktemp("kops"),
    )
    world.seed()
    assert world.originals[f"{CLUSTER}/kops-version.txt"] == KOPS_VERSION.encode()
    return world


@pytest.fixture
def world(seeded_world: KopsWorld, kops_embedded_aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> KopsWorld:
    """The seeded cluster as seeded, and this process's environment pointing at its embedded AWS."""
    for name, value in kops_embedded_aws.environment().items():
        monkeypatch.setenv(name, value)
    if seeded_world.intact():
        seeded_world.restore()
    else:
        seeded_world.seed()
    seeded_world.pin()
    return seeded_world


@pytest.fixture(autouse=True)
def runner_role_guard() -> Iterator[None]:
    """Every AWS call a kops runner run here makes (its own and the kops double's) must be allowed by its IAM role."""
    with runner_calls_checked():
        yield
