"""The pinned settings (task definition environment → PinnedSettings), the override check, the isolation of the
runner's environment, and what the runner reads back from kops. Pure: no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kops_runner.errors import BadRequest
from kops_runner.instance_group import UnreadableOutput, parse_instance_group, parse_kops_version
from kops_runner.isolation import KOPS_SEARCH_PATH, PINNED, isolate, kops_environment
from kops_runner.outcome import MAX_MESSAGE_CHARS, clip
from kops_runner.overrides import require_only_the_decision_id
from kops_runner.settings import PinnedSettings
from kops_runner.task import TaskIdentity, describe, metadata_endpoint

DECISION = "01J0000000000000000000000A"
BASE = {
    "KOPS_CLUSTER_NAME": "k8s.example.com",
    "KOPS_STATE_STORE": "s3://kops-state",
    "MAREA_DECISIONS_TABLE": "marea-prod-decisions",
    "MAREA_INSTANCE_GROUPS": "nodes-a, nodes-b",
}


def pinned(**overrides: str) -> PinnedSettings:
    values = {**BASE, **overrides}
    return PinnedSettings.registered([{"name": name, "value": value} for name, value in values.items()])


@pytest.mark.parametrize(("raw", "apply"), [("true", True), ("True", False), ("yes", False), ("1", False), ("", False)])
def test_only_the_exact_string_true_applies(raw: str, apply: bool) -> None:
    assert pinned(MAREA_APPLY=raw).apply is apply


def test_the_defaults_are_a_dry_run_capped_at_1000_nodes() -> None:
    settings = pinned()
    assert (settings.apply, settings.max_nodes, settings.instance_groups) == (False, 1000, ("nodes-a", "nodes-b"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAREA_INSTANCE_GROUPS", ""),
        ("MAREA_INSTANCE_GROUPS", "nodes,--yes"),
        ("MAREA_INSTANCE_GROUPS", "nodes; rm -rf /"),
        ("KOPS_CLUSTER_NAME", "-k8s.example.com"),
        ("KOPS_STATE_STORE", "gs://bucket"),
        ("KOPS_STATE_STORE", "s3://--state"),
        ("MAREA_DECISIONS_TABLE", "a"),
        ("MAREA_MAX_NODES", "-4"),
        # infra/kops-runner.yaml grants the state-store write for four groups only: a fifth would fail every run.
        ("MAREA_INSTANCE_GROUPS", "a,b,c,d,e"),
    ],
)
def test_a_malformed_task_definition_is_refused_naming_the_variable_not_the_value(name: str, value: str) -> None:
    with pytest.raises(BadRequest, match=name) as refused:
        pinned(**{name: value})
    assert "rm -rf" not in str(refused.value)


def test_more_instance_groups_than_the_stack_grants_writes_for_are_refused_naming_the_limit() -> None:
    with pytest.raises(BadRequest, match="at most 4 instance groups: the kops-runner stack grants the state-store"):
        pinned(MAREA_INSTANCE_GROUPS="a,b,c,d,e")
    assert pinned(MAREA_INSTANCE_GROUPS="a,b,c,d").instance_groups == ("a", "b", "c", "d")


SIDECAR = {"name": "sidecar", "environment": [{"name": "MAREA_DECISION_ID", "value": DECISION}]}


def own(*environment: tuple[str, str], **more: Any) -> dict[str, Any]:
    pairs = [{"name": name, "value": value} for name, value in environment]
    return {
        "containerOverrides": [{"name": "kops-runner", "environment": pairs, **more}],
        "inferenceAcceleratorOverrides": [],
    }


def test_only_the_decision_id_on_its_own_container_passes() -> None:
    assert require_only_the_decision_id(own(("MAREA_DECISION_ID", DECISION)), "kops-runner") == DECISION


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        (own(("MAREA_DECISION_ID", DECISION), ("KOPS_BINARY", "/scratch/x")), "environment KOPS_BINARY"),
        (own(("MAREA_DECISION_ID", DECISION), ("PYTHONPATH", "/scratch/x")), "environment PYTHONPATH"),
        (own(("MAREA_DECISION_ID", DECISION), command=["sh", "-c", "id"]), "containerOverrides[kops-runner].command"),
        (own(("MAREA_DECISION_ID", DECISION), environmentFiles=[{"type": "s3", "value": "arn"}]), "environmentFiles"),
        ({**own(("MAREA_DECISION_ID", DECISION)), "taskRoleArn": "arn:aws:iam::1:role/admin"}, "taskRoleArn"),
        ({**own(("MAREA_DECISION_ID", DECISION)), "executionRoleArn": "arn:aws:iam::1:role/x"}, "executionRoleArn"),
        (
            {"containerOverrides": [*own(("MAREA_DECISION_ID", DECISION))["containerOverrides"], SIDECAR]},
            "containerOverrides[sidecar].environment MAREA_DECISION_ID",
        ),
    ],
)  # fmt: skip
def test_any_other_override_is_refused_by_name_never_by_value(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(BadRequest, match="refused: the task's overrides set more than MAREA_DECISION_ID") as refused:
        require_only_the_decision_id(overrides, "kops-runner")
    assert named in str(refused.value)
    assert "/scratch/x" not in str(refused.value)
    assert "role/admin" not in str(refused.value)


@pytest.mark.parametrize("overrides", [{}, own(), own(("MAREA_DECISION_ID", "not-a-ulid"))])
def test_a_task_without_a_valid_decision_id_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(BadRequest, match="no valid MAREA_DECISION_ID"):
        require_only_the_decision_id(overrides, "kops-runner")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "http://127.0.0.1:8080/v4/abc",
        "https://169.254.170.2/v4/abc",
        "http://169.254.170.2:80/v4/abc",
        "http://user@169.254.170.2/v4/abc",
        "http://169.254.170.2.evil.example/v4/abc",
        "http://169.254.170.2/v2/credentials/abc",
        # On Fargate's host, but another path than this task's v4 endpoint.
        "http://169.254.170.2/v4/../v2/credentials/abc",
        "http://169.254.170.2/v4/abc/../../other",
        "http://169.254.170.2/v4/abc?task=other",
        "http://169.254.170.2/v4/abc#x",
        "http://169.254.170.2/v4/",
    ],
)
def test_the_metadata_endpoint_is_accepted_only_on_fargates_host(value: str | None) -> None:
    with pytest.raises(BadRequest, match="ECS_CONTAINER_METADATA_URI_V4"):
        metadata_endpoint(value)


def test_fargates_metadata_endpoint_is_accepted() -> None:
    assert metadata_endpoint("http://169.254.170.2/v4/3f2a-1") == "http://169.254.170.2/v4/3f2a-1"


def test_the_region_comes_from_the_task_arn() -> None:
    arn = "arn:aws:ecs:eu-west-1:123456789012:task/marea-prod-kops-runner/0123456789abcdef0123456789abcdef"
    assert TaskIdentity(arn, "marea-prod-kops-runner", "kops-runner").region == "eu-west-1"
    with pytest.raises(BadRequest):
        _ = TaskIdentity("arn:aws:iam::123456789012:role/x", "c", "kops-runner").region


HOSTILE = {
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
    "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
    "AWS_ENDPOINT_URL_ECS": "http://127.0.0.1:1",
    "AWS_CA_BUNDLE": "/scratch/ca.pem",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/creds",
    "AWS_ACCESS_KEY_ID": "AKIAEVIL",
    "AWS_REGION": "xx-evil-1",
    "AWS_DATA_PATH": "/scratch/models",
    "HTTPS_PROXY": "http://127.0.0.1:1",
    "SSL_CERT_FILE": "/scratch/ca.pem",
    "KOPS_BASE_URL": "http://127.0.0.1:1/nodeup",
    "KOPS_FEATURE_FLAGS": "+Evil",
    "KOPS_STATE_STORE": "s3://evil",
    "LD_PRELOAD": "/scratch/evil.so",
    "BASH_ENV": "/scratch/evil.sh",
    "PYTHONPATH": "/scratch",
    "PATH": "/scratch/evil-bin",
    "HOME": "/scratch/evil-home",
}


def test_the_runner_keeps_only_what_the_ecs_agent_sets() -> None:
    environ = dict(HOSTILE)
    isolate(environ)
    assert environ == {
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc",
        "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
        **PINNED,
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        # botocore fetches f"http://169.254.170.2{relative_uri}": these make the host the caller's.
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@creds.attacker.example/x"),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ".attacker.example/x"),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ":8080/v2/credentials/abc"),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/../../v4/abc"),
        ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc?x=1"),
        ("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE\r\nX-Evil: 1"),
    ],
)
def test_an_agent_variable_not_in_the_agents_form_is_dropped(name: str, value: str) -> None:
    environ = {**HOSTILE, name: value}

    isolate(environ)

    assert name not in environ
    assert name not in kops_environment(environ, "eu-west-1")


def test_a_dropped_relative_uri_would_have_sent_the_credential_fetch_to_the_callers_host() -> None:
    from botocore.utils import ContainerMetadataFetcher
    from urllib3.util import parse_url

    url = ContainerMetadataFetcher().full_url("@creds.attacker.example/x")

    assert parse_url(url).host == "creds.attacker.example"


def test_kops_gets_a_minimal_environment_in_the_tasks_region() -> None:
    environment = kops_environment(HOSTILE, "eu-west-1")
    assert set(environment) == {
        "HOME", "PATH", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EXECUTION_ENV", "AWS_REGION",
        "AWS_DEFAULT_REGION", *PINNED,
    }  # fmt: skip
    assert (environment["PATH"], environment["AWS_REGION"]) == (KOPS_SEARCH_PATH, "eu-west-1")
    assert environment["HOME"] != "/scratch/evil-home"


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("Client version: 1.36.2 (git-v1.36.2)\n", "1.36.2"),
        ("Version 1.19.0 (git-8f0d28e2f)\n", "1.19.0"),
        ("1.31.0\n", "1.31.0"),
    ],
)
def test_kops_versions_are_read_from_what_kops_version_prints(text: str, version: str) -> None:
    assert str(parse_kops_version(text)) == version


def test_an_instance_group_is_read_from_kops_yaml() -> None:
    group = parse_instance_group(
        "apiVersion: kops.k8s.io/v1alpha2\nkind: InstanceGroup\nmetadata:\n  name: nodes\n"
        "spec:\n  maxSize: 5\n  minSize: 1\n  role: Node\n  machineType: t3.medium\n",
        "nodes",
    )

    assert (group.spec.min_size, group.spec.max_size, group.is_node_group) == (1, 5, True)


@pytest.mark.parametrize(
    "text",
    [
        "kind: Cluster\napiVersion: kops.k8s.io/v1alpha2\nmetadata: {name: nodes}\nspec: {}\n",
        "apiVersion: kops.k8s.io/v1alpha2\nkind: InstanceGroup\nmetadata: {name: other}\nspec: {}\n",
        "a: [unclosed\n",
        "",
    ],
)
def test_anything_but_the_asked_instance_group_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableOutput):
        parse_instance_group(text, "nodes")


def test_long_kops_output_is_clipped_keeping_both_ends() -> None:
    text = "start " + "x" * 10_000 + " Error: the end"

    clipped = clip(text)

    assert len(clipped) <= MAX_MESSAGE_CHARS
    assert clipped.startswith("start ")
    assert clipped.endswith("Error: the end")


class DescribingEcs:
    """ECS's DescribeTasks/DescribeTaskDefinition answers for one task, as AWS gives them: a double, because moto's
    RunTask drops `enableExecuteCommand` and its DescribeTasks returns no `createdAt`."""

    def __init__(self, **task: Any) -> None:
        self.task = {"taskArn": TASK_ARN, "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/r:1"}
        self.task.update(task)

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        return {"tasks": [self.task]}

    def describe_task_definition(self, taskDefinition: str) -> dict[str, Any]:
        return {"taskDefinition": {"containerDefinitions": [{"name": "kops-runner", "environment": []}]}}


TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/marea-prod-kops-runner/0123456789abcdef0123456789abcdef"
IDENTITY = TaskIdentity(TASK_ARN, "marea-prod-kops-runner", "kops-runner")


def test_a_task_started_with_ecs_exec_is_refused() -> None:
    # ECS Exec: a shell holding the runner's role. enableExecuteCommand is a RunTask parameter, not an override.
    with pytest.raises(BadRequest, match="refused: the task was started with enableExecuteCommand"):
        describe(DescribingEcs(enableExecuteCommand=True), IDENTITY)  # type: ignore[arg-type]


def test_the_tasks_creation_time_is_read_from_ecs() -> None:
    created = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    described = describe(DescribingEcs(createdAt=created, enableExecuteCommand=False), IDENTITY)  # type: ignore[arg-type]

    assert described.created_at == created
