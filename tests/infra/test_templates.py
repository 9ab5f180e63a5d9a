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
