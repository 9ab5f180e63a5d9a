"""The stack's runner task definition pins what the runner reads from it (kops_runner/settings.py PinnedSettings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kops_runner.settings import MAX_INSTANCE_GROUPS, PinnedSettings
from tests.infra.templates import template

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS: dict[str, Any] = {
    "KopsClusterName": "k8s.example.com",
    "KopsInstanceGroups": ["nodes-a", "nodes-b"],  # a CommaDelimitedList
    "KopsMaxNodes": "50",
}


def resolved(value: Any) -> str:
    """The value CloudFormation would give, for the few intrinsic functions the Environment list uses."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return str(PARAMETERS[value["Ref"]])
    if "Join" in value:
        separator, parts = value["Join"]
        listed = PARAMETERS[parts["Ref"]] if isinstance(parts, dict) else [resolved(part) for part in parts]
        return str(separator).join(listed)
    if "Sub" in value:
        return str(value["Sub"]).replace("${Stage}", "prod").replace("${StateStoreBucket}", "kops-state")
    if "If" in value:
        return resolved(value["If"][1])
    raise AssertionError(f"unexpected {value}")


def test_the_stacks_task_definition_is_a_valid_pinned_configuration() -> None:
    definition = template("kops-runner.yaml")["Resources"]["TaskDefinition"]["Properties"]
    [container] = definition["ContainerDefinitions"]
    environment = [{"name": pair["Name"], "value": resolved(pair["Value"])} for pair in container["Environment"]]

    pinned = PinnedSettings.registered(environment)

    assert (pinned.cluster, pinned.state_store, pinned.decisions_table) == (
        "k8s.example.com",
        "s3://kops-state",
        "marea-prod-decisions",
    )
    assert (pinned.instance_groups, pinned.apply, pinned.max_nodes, pinned.home) == (
        ("nodes-a", "nodes-b"),
        True,
        50,
        "/tmp",  # noqa: S108 (the stack mounts a scratch volume there)
    )


def test_the_runner_accepts_as_many_instance_groups_as_the_stack_grants_state_store_writes_for() -> None:
    # One `Select [i]` of the padded KopsInstanceGroups per PutObject slot in the TaskRole.
    text = (ROOT / "infra" / "kops-runner.yaml").read_text()
    slots = {line.split("!Select [", 1)[1].split(",", 1)[0] for line in text.splitlines() if "Group: !Select [" in line}
    assert len(slots) == MAX_INSTANCE_GROUPS
