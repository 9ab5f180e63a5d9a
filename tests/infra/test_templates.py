"""Every template in infra/ is cfn-lint clean and passes checkov, suppressions each with a written reason."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.infra.templates import INFRA, cfn_lint, checkov_report, template, templates

STACKS = {"network.yaml", "marea-data.yaml", "webapp-asg.yaml", "kops-runner.yaml"}


def test_the_stacks_exist() -> None:
    assert {path.name for path in templates()} >= STACKS


def test_every_template_is_cfn_lint_clean() -> None:
    result = cfn_lint(*templates())

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def _declared_skips() -> Counter[tuple[str, str, str]]:
    skips: Counter[tuple[str, str, str]] = Counter()
    for path in templates():
        for logical_id, resource in template(path.name).get("Resources", {}).items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                skips[(path.name, logical_id, skip["id"])] += 1
    return skips


def _checks(kind: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = checkov_report(INFRA)["results"].get(kind, [])
    return results


def test_checkov_finds_nothing_unsuppressed() -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in _checks("failed_checks")
    ]

    assert failed == []
    assert checkov_report(INFRA)["summary"]["parsing_errors"] == 0
    assert checkov_report(INFRA)["summary"]["passed"] > 50


def test_every_suppression_says_why() -> None:
    for path in templates():
        for logical_id, resource in template(path.name).get("Resources", {}).items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert len(skip.get("comment", "")) >= 40, f"{path.name} {logical_id} {skip['id']}: give a reason"


def test_every_suppression_is_still_needed() -> None:
    """A suppression checkov no longer reports is stale: remove it rather than let it hide a future finding."""
    skipped = Counter(
        (c["file_path"].lstrip("/"), c["resource"].split(".", 1)[1], c["check_id"]) for c in _checks("skipped_checks")
    )

    assert skipped == _declared_skips()


def test_the_runner_stack_accepts_exactly_the_kops_names_marea_and_its_runner_accept() -> None:
    """A stack deployed with a name the runner refuses would yield a runner that exits 2 on every run."""
    from chalicelib import kops_names

    parameters = template("kops-runner.yaml")["Parameters"]

    assert parameters["KopsClusterName"]["AllowedPattern"] == kops_names.CLUSTER_NAME_PATTERN
    assert parameters["KopsClusterName"]["MaxLength"] == kops_names.CLUSTER_NAME_MAX_LENGTH
    # On a CommaDelimitedList, CloudFormation applies AllowedPattern to each member.
    assert parameters["KopsInstanceGroups"]["AllowedPattern"] == kops_names.INSTANCE_GROUP_PATTERN


def test_the_runner_reads_and_writes_the_decisions_table_it_is_given() -> None:
    """DecisionsTableName (Marea's MAREA_DECISIONS_TABLE when not marea-<stage>-decisions) in the runner's
    environment, its role and the DynamoDB endpoint's policy; empty: marea-<Stage>-decisions."""
    from tests.infra.cfn_resolve import Stack
    from tests.infra.iam_policy import Request
    from tests.infra.runner_guard import Deployment, task_role_policy

    kops = template("kops-runner.yaml")
    region, account = "eu-west-1", "123456789012"

    def table(name: str) -> str:
        return f"arn:aws:dynamodb:{region}:{account}:table/{name}"

    required: dict[str, str | list[str]] = {
        "VpcId": "vpc-1",
        "RunnerImage": "registry/marea-kops-runner@sha256:" + "0" * 64,
        "KopsClusterName": "k8s.example.com",
        "RunnerSubnetIds": ["subnet-1"],
    }

    def environment(parameters: dict[str, str | list[str]]) -> dict[str, Any]:
        stack = Stack(kops, {**required, **parameters}, region)
        (container,) = stack.value(kops["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"])
        return {v["Name"]: v["Value"] for v in container["Environment"]}

    custom = Deployment("prod", region, account, "k8s.example.com", "state", ("nodes",), "10", "decisions-of-prod")
    policy = task_role_policy(custom)
    written = {"dynamodb:Attributes": ("id", "runner_result")}
    # The endpoint policy's ARN is a Sub over the table's name: the name as CloudFormation resolves it.
    (_, names) = kops["Resources"]["DynamoDbEndpoint"]["Properties"]["PolicyDocument"]["Statement"][0]["Resource"][
        "Sub"
    ]
    endpoint = Stack(kops, {**required, "DecisionsTableName": "decisions-of-prod"}, region).value(names["Table"])

    assert environment({"DecisionsTableName": "decisions-of-prod"})["MAREA_DECISIONS_TABLE"] == "decisions-of-prod"
    assert environment({})["MAREA_DECISIONS_TABLE"] == {"Sub": "marea-${Stage}-decisions"}
    assert policy.allows(Request("dynamodb:GetItem", table("decisions-of-prod")))
    assert policy.allows(Request("dynamodb:UpdateItem", table("decisions-of-prod"), written))
    assert not policy.allows(Request("dynamodb:GetItem", table("marea-prod-decisions")))
    assert endpoint == "decisions-of-prod"
