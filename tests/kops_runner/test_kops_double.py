"""The kops test double behaves like kops v1.36 for the commands the runner uses, over moto's S3 and ASGs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kops_runner.testing import kops_double
from kops_runner.testing.local_entry import double_executable, embedded_aws
from tests.kops_runner.conftest import BUCKET, CLUSTER, NODES, KopsWorld

pytestmark = pytest.mark.integration

TARGET = ["--name", CLUSTER, "--state", f"s3://{BUCKET}"]


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def kops(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Runs the double in this process (the runner's tests run it as the executable it is)."""

    def call(*args: str) -> Result:
        code = kops_double.main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


def test_the_executable_runs_with_the_interpreter_it_is_given(world: KopsWorld, tmp_path: Path) -> None:
    executable = double_executable(tmp_path, embedded_aws(world.endpoint_url))
    result = subprocess.run(  # noqa: S603 - the double, argument list
        [str(executable), "version"], capture_output=True, text=True, timeout=60, check=False, env={}
    )

    assert (result.returncode, result.stdout) == (0, "Client version: 1.36.2 (git-v1.36.2)\n")


def test_it_says_it_is_a_test_double_and_which_kops_it_follows() -> None:
    doc = kops_double.__doc__ or ""
    assert "TEST DOUBLE" in doc
    assert "v1.36" in doc


def test_edit_then_update_previews_then_applies_the_new_sizes(
    world: KopsWorld, kops: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = kops("edit", "ig", NODES, *TARGET, "--set", "spec.minSize=1", "--set", "spec.maxSize=6")
    assert edited.returncode == 0, edited.stderr
    assert world.ig_sizes() == (1, 6)

    preview = kops("update", "cluster", *TARGET, "--instance-group", NODES)
    assert preview.returncode == 0, preview.stderr
    assert "Will modify resources:\n  AutoscalingGroup/nodes-us-east-1a.k8s.example.com" in preview.stdout
    assert "MaxSize             \t 2 -> 6" in preview.stdout
    assert "Must specify --yes to apply changes" in preview.stdout
    assert world.asg_sizes() == (2, 2)

    # Cluster and state store from the environment, like kops
    monkeypatch.setenv("KOPS_CLUSTER_NAME", CLUSTER)
    monkeypatch.setenv("KOPS_STATE_STORE", f"s3://{BUCKET}")
    applied = kops("update", "cluster", "--yes")
    assert applied.returncode == 0, applied.stderr
    assert world.asg_sizes() == (1, 6)
    assert "No changes need to be made." in kops("update", "cluster", *TARGET).stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["get", "ig", "gpu-nodes", *TARGET, "-o", "yaml"], 'Error: instancegroup not found "gpu-nodes"'),
        (["edit", "ig", "gpu-nodes", *TARGET, "--set", "spec.minSize=1"], 'Error: InstanceGroup "gpu-nodes" not found'),
        (["get", "ig", NODES, "--name", "other.example.com", "--state", f"s3://{BUCKET}", "-o", "yaml"], "not found"),
        (
            ["get", "ig", NODES, "--name", CLUSTER, "-o", "yaml"],
            "Please set the --state flag or export KOPS_STATE_STORE",
        ),
        (["edit", "ig", NODES, *TARGET, "--set", "spec.minSize=9"], "maxSize must be greater than or equal to minSize"),
        (["delete", "cluster", *TARGET], "the kops test double does not implement `kops delete cluster`"),
        (["update", "cluster", *TARGET, "--force"], "Error: unknown flag: --force"),
    ],
)
def test_it_refuses_like_kops(world: KopsWorld, kops: Callable[..., Result], args: list[str], says: str) -> None:
    result = kops(*args)

    assert result.returncode == 1
    assert says in result.stderr
    assert world.ig_sizes() == (2, 2)


def test_it_refuses_a_cluster_last_updated_by_a_newer_kops(world: KopsWorld, kops: Callable[..., Result]) -> None:
    world.s3.put_object(Bucket=BUCKET, Key=f"{CLUSTER}/kops-version.txt", Body=b"1.37.0")

    result = kops("update", "cluster", *TARGET, "--yes")

    assert result.returncode == 1
    assert "older than the kops that last updated the cluster (1.37.0)" in result.stderr


def test_get_ig_prints_the_stored_instance_group(world: KopsWorld, kops: Callable[..., Result]) -> None:
    result = kops("get", "instancegroup", NODES, *TARGET, "-o", "yaml")

    assert result.returncode == 0
    assert "kind: InstanceGroup" in result.stdout
    assert "role: Node" in result.stdout
    assert "minSize: 2" in result.stdout
