"""The request model (environment → RunRequest) and what the runner reads back from kops."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kops_runner.instance_group import UnreadableOutput, parse_instance_group, parse_kops_version
from kops_runner.outcome import MAX_MESSAGE_CHARS, clip
from kops_runner.settings import ReportTo, RunRequest

BASE = {
    "KOPS_CLUSTER_NAME": "k8s.example.com",
    "KOPS_STATE_STORE": "s3://kops-state",
    "MAREA_IG_NAME": "nodes",
    "MAREA_MIN_SIZE": "3",
    "MAREA_MAX_SIZE": "5",
    "MAREA_DECISION_ID": "01J0000000000000000000000A",
}


def from_env(monkeypatch: pytest.MonkeyPatch, **overrides: str) -> RunRequest:
    for name, value in {**BASE, **overrides}.items():
        monkeypatch.setenv(name, value)
    return RunRequest()


@pytest.mark.parametrize(("raw", "apply"), [("true", True), ("True", False), ("yes", False), ("1", False), ("", False)])
def test_only_the_exact_string_true_applies(monkeypatch: pytest.MonkeyPatch, raw: str, apply: bool) -> None:
    monkeypatch.delenv("MAREA_APPLY", raising=False)
    assert from_env(monkeypatch, MAREA_APPLY=raw).apply is apply


def test_the_defaults_are_a_dry_run_with_kops_on_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAREA_APPLY", "MAREA_MAX_NODES", "KOPS_BINARY", "MAREA_DECISIONS_TABLE"):
        monkeypatch.delenv(name, raising=False)

    request = from_env(monkeypatch)

    assert (request.apply, request.max_nodes, request.kops_binary, request.decisions_table) == (
        False,
        1000,
        "kops",
        None,
    )
    assert request.asg_name == "nodes.k8s.example.com"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAREA_IG_NAME", "--yes"),
        ("MAREA_IG_NAME", "nodes; rm -rf /"),
        ("KOPS_CLUSTER_NAME", "-k8s.example.com"),
        ("KOPS_STATE_STORE", "gs://bucket"),
        ("KOPS_STATE_STORE", "s3://--state"),
        ("MAREA_DECISION_ID", "not-a-ulid"),
        ("MAREA_MAX_NODES", "4"),
    ],
)
def test_a_malformed_request_is_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    with pytest.raises(ValidationError):
        from_env(monkeypatch, **{name: value})


def test_report_to_reads_a_request_too_broken_to_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAREA_DECISION_ID", "01J0000000000000000000000A")
    monkeypatch.setenv("MAREA_DECISIONS_TABLE", "marea-prod-decisions")
    monkeypatch.setenv("MAREA_MIN_SIZE", "lots")
    monkeypatch.setenv("MAREA_APPLY", "true")

    report_to = ReportTo()

    assert (report_to.decision_id, report_to.decisions_table, report_to.apply) == (
        "01J0000000000000000000000A",
        "marea-prod-decisions",
        True,
    )


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
