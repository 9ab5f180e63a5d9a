"""infra/upgrade.py, kops part: it names what still runs or configures the runner of an older Marea and fails.

An older runner image reads its configuration from RunTask's environment overrides; any ACTIVE revision of
the runner's family can be started by Marea's role (`task-definition/marea-<stage>-kops-runner:*`). A kops
target stored with a `runner` block loses its subnets and security groups when read (README, "Upgrading a
deployment with kops targets").
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from marea_local.demo_resources import register_kops_runner_task_definition
from tests.infra.templates import ROOT
from tests.integration.world import RUNNER_CLUSTER, kops_target, make_runner_cluster, register

UPGRADE = [sys.executable, str(ROOT / "infra" / "upgrade.py"), "--stage", "test"]


def _upgrade() -> subprocess.CompletedProcess[str]:
    return subprocess.run(UPGRADE, capture_output=True, text=True, check=False)  # noqa: S603 - our own script


def test_older_runner_revisions_and_stored_runner_blocks_fail_the_upgrade_until_gone(
    client: Any, clients: dict[str, Any], data_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_runner_cluster(clients, monkeypatch)  # revision 1
    newest = register_kops_runner_task_definition(clients["ecs"], RUNNER_CLUSTER, {"MAREA_APPLY": "true"})
    register(client, "k8s-nodes", kops_target())
    (item,) = clients["dynamodb"].query(
        TableName=data_stack.targets_table,
        IndexName="by_listing",
        KeyConditionExpression="listing = :l",
        ExpressionAttributeValues={":l": {"S": "TARGET"}},
    )["Items"]
    key = {"pk": item["pk"], "sk": item["sk"]}
    doc = json.loads(item["doc"]["S"])
    old = {**doc, "runner": {"subnets": ["subnet-1"], "security_groups": ["sg-1"]}}
    clients["dynamodb"].update_item(
        TableName=data_stack.targets_table,
        Key=key,
        UpdateExpression="SET doc = :d",
        ExpressionAttributeValues={":d": {"S": json.dumps(old)}},
    )

    refused = _upgrade()

    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"{RUNNER_CLUSTER}:1" in refused.stdout
    assert newest not in refused.stdout
    assert "k8s-nodes" in refused.stdout
    assert "subnet-1" in refused.stdout  # what to copy into MAREA_KOPS_RUNNER_* before it is lost

    clients["ecs"].deregister_task_definition(taskDefinition=f"{RUNNER_CLUSTER}:1")
    clients["dynamodb"].update_item(
        TableName=data_stack.targets_table,
        Key=key,
        UpdateExpression="SET doc = :d",
        ExpressionAttributeValues={":d": {"S": json.dumps(doc)}},
    )
    done = _upgrade()

    assert done.returncode == 0, done.stdout + done.stderr
    assert "kops runner: ok" in done.stdout
