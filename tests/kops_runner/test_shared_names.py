"""Registration and the runner accept exactly the same cluster, instance group and state-store names.

Before they shared chalicelib/kops_names.py, registration accepted `a..b` as a cluster and
`s3://bucket/$(id)` as a state store, which the runner then refused on every run (and the runner
accepted instance groups registration refused).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from chalicelib.models.targets import KopsTarget
from kops_runner.settings import ClusterName, InstanceGroupName, StateStore

ROOT = Path(__file__).resolve().parents[2]

CASES: dict[str, list[str]] = {
    "cluster_name": [
        "k8s.example.com", "k8s.local", "a", "a..b", "a.-b", "a-.b", "-a", "a-", "A.example.com", "a_b", "a b",
        "x" * 253, "x" * 254,
    ],
    "instance_group": [
        "nodes", "nodes-us-east-1a", "a", "nodes.a", "-nodes", "nodes-", "Nodes", "--yes", "n" * 63, "n" * 64,
    ],
    "state_store": [
        "s3://kops-state", "s3://kops-state/prefix/a.b_c-d", "s3://kops-state/", "s3://abc", "s3://ab", "gs://bucket",
        "s3://--state", "s3://kops-state/a b", "s3://kops-state/a?b", "s3://kops-state/$(id)", "s3://kops-state/é",
        "s3://kops-state/a;b", "s3://kops-state/a\\b", "s3://kops-state/" + "p" * 1100,
    ],
}  # fmt: skip
# The runner's types for each name (its pinned settings and the decision's request both use them).
RUNNER_TYPES: dict[str, Any] = {
    "cluster_name": ClusterName,
    "instance_group": InstanceGroupName,
    "state_store": StateStore,
}


def accepts(field: FieldInfo | Any, value: str) -> bool:
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[str, field] if isinstance(field, FieldInfo) else field)
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("name", "value"), [(name, value) for name, values in CASES.items() for value in values])
def test_registration_and_the_runner_agree(name: str, value: str) -> None:
    registration = accepts(KopsTarget.model_fields[name], value)
    runner = accepts(RUNNER_TYPES[name], value)
    assert registration == runner, f"{name} {value[:40]!r}: registration {registration}, runner {runner}"


def test_both_sides_accept_some_and_refuse_some_of_the_cases() -> None:
    for name, values in CASES.items():
        verdicts = {accepts(KopsTarget.model_fields[name], value) for value in values}
        assert verdicts == {True, False}, name


def test_the_shared_module_imports_nothing_the_runner_image_lacks() -> None:
    tree = ast.parse((ROOT / "chalicelib" / "kops_names.py").read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__"}


def test_the_runner_bounds_deadlines_by_marea_s_longest_lease() -> None:
    # A deadline later than MAX_LEASE_S after the task was created is refused: Marea's own must never be.
    from kops_runner.settings import MAX_LEASE_S

    [bound] = [m.le for m in KopsTarget.model_fields["runner_timeout_s"].metadata if getattr(m, "le", None)]
    assert bound == MAX_LEASE_S
