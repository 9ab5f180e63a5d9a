"""How the runner calls kops: argument lists, no shell, a timeout, no stdin; and which flags for which kops."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kops_runner.errors import BadRequest, KopsFailed
from kops_runner.kops_cli import KopsCli
from kops_runner.resize import Resize
from kops_runner.settings import RunRequest
from kops_runner.testing import kops_double

NODE_GROUP_YAML = """\
apiVersion: kops.k8s.io/v1alpha2
kind: InstanceGroup
metadata:
  name: nodes
spec:
  maxSize: {max}
  minSize: {min}
  role: Node
"""


@dataclass
class FakeKops:
    """Stands in for subprocess.run: records every call, answers like kops at `version`."""

    version: str = "1.36.2"
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)
    calls: list[tuple[list[str], dict[str, Any]]] = field(default_factory=list)
    sizes: tuple[int, int] = (2, 2)

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((argv, kwargs))
        verb = argv[1]
        if verb in self.fail:
            code, stderr = self.fail[verb]
            return subprocess.CompletedProcess(argv, code, "", stderr)
        if verb == "version":
            return subprocess.CompletedProcess(argv, 0, f"Client version: {self.version} (git-v{self.version})\n", "")
        if verb == "get":
            return subprocess.CompletedProcess(
                argv, 0, NODE_GROUP_YAML.format(min=self.sizes[0], max=self.sizes[1]), ""
            )
        if verb == "edit":
            self.sizes = (int(argv[-3].split("=")[1]), int(argv[-1].split("=")[1]))
        return subprocess.CompletedProcess(argv, 0, "", "")


def request(*, apply: bool = True) -> RunRequest:
    return RunRequest(
        decision_id="01J0000000000000000000000A",
        decisions_table="marea-decisions",
        cluster="k8s.example.com",
        state_store="s3://kops-state",
        instance_group="nodes",
        min_size=3,
        max_size=5,
        deadline=datetime.now(UTC) + timedelta(minutes=14),
        apply=apply,
        kops_timeout_s=42,
        verify_attempts=3,
        verify_interval_s=0,
    )


class AsgAt:
    def __init__(self, sizes: tuple[int, int]) -> None:
        self.sizes = sizes

    def describe_auto_scaling_groups(self, **_: Any) -> dict[str, Any]:
        return {"AutoScalingGroups": [{"MinSize": self.sizes[0], "MaxSize": self.sizes[1]}]}


def cli(fake: FakeKops) -> KopsCli:
    return KopsCli(
        binary="/usr/local/bin/kops",
        cluster="k8s.example.com",
        state_store="s3://kops-state",
        timeout_s=42,
        environment={"HOME": "/home/runner", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        run_process=fake,
    )


def test_an_apply_calls_kops_with_argument_lists_a_timeout_and_no_shell() -> None:
    fake = FakeKops()

    status, _ = Resize(request(), cli(fake), lambda: AsgAt((3, 5)), sleep=lambda _: None).run()  # type: ignore[arg-type, return-value]

    assert status == "applied"
    target = ["--name", "k8s.example.com", "--state", "s3://kops-state"]
    assert [argv for argv, _ in fake.calls] == [
        ["/usr/local/bin/kops", "version"],
        ["/usr/local/bin/kops", "get", "ig", "nodes", *target, "-o", "yaml"],
        ["/usr/local/bin/kops", "edit", "ig", "nodes", *target, "--set", "spec.minSize=3", "--set", "spec.maxSize=5"],
        ["/usr/local/bin/kops", "update", "cluster", *target, "--yes", "--instance-group", "nodes"],
        ["/usr/local/bin/kops", "get", "ig", "nodes", *target, "-o", "yaml"],
    ]
    for _, kwargs in fake.calls:
        assert "shell" not in kwargs
        assert kwargs["timeout"] == 42
        assert kwargs["stdin"] is subprocess.DEVNULL
        assert kwargs["env"] == {"HOME": "/home/runner", "PATH": "/usr/local/bin:/usr/bin:/bin"}  # nothing inherited


@pytest.mark.parametrize(("version", "scoped"), [("1.30.4", False), ("1.31.0", True), ("1.36.2", True)])
def test_update_is_scoped_to_the_instance_group_from_kops_1_31(version: str, scoped: bool) -> None:
    fake = FakeKops(version=version)

    Resize(request(), cli(fake), lambda: AsgAt((3, 5)), sleep=lambda _: None).run()  # type: ignore[arg-type, return-value]

    update = next(argv for argv, _ in fake.calls if argv[1] == "update")
    assert ("--instance-group" in update) is scoped


def test_a_dry_run_never_edits_and_never_passes_yes() -> None:
    fake = FakeKops()

    status, _ = Resize(request(apply=False), cli(fake), lambda: AsgAt((2, 2))).run()  # type: ignore[arg-type, return-value]

    assert status == "dry_run"
    verbs = [argv[1] for argv, _ in fake.calls]
    assert verbs == ["version", "get", "update"]
    assert all("--yes" not in argv for argv, _ in fake.calls)


@pytest.mark.parametrize(
    ("stderr", "error"),
    [
        ('\nError: instancegroup not found "nodes"\n', BadRequest),
        (
            '\nError: error reading cluster configuration: clusters.kops.k8s.io "k8s.example.com" not found\n',
            BadRequest,
        ),
        ("\nError: error reading state store: AccessDenied\n", KopsFailed),
    ],
)
def test_not_found_is_the_callers_mistake_anything_else_a_kops_failure(stderr: str, error: type[Exception]) -> None:
    fake = FakeKops(fail={"get": (1, stderr)})

    with pytest.raises(error, match="kops get ig exited with 1"):
        cli(fake).get_instance_group("nodes")


def test_a_missing_kops_binary_is_a_kops_failure(tmp_path: Path) -> None:
    kops = KopsCli(binary=str(tmp_path / "no-kops"), cluster="c.example.com", state_store="s3://b-b", timeout_s=5)

    with pytest.raises(KopsFailed, match="could not start"):
        kops.version()


def test_unreadable_kops_output_is_a_kops_failure() -> None:
    fake = FakeKops(version="unknown")

    with pytest.raises(KopsFailed, match="no version number"):
        cli(fake).version()


def test_the_runner_source_never_uses_a_shell() -> None:
    sources = Path(__file__).resolve().parents[2] / "kops_runner"
    for path in sources.glob("*.py"):
        text = path.read_text()
        assert "shell=True" not in text, path
        assert "os.system" not in text, path


def test_the_double_refuses_flags_its_kops_version_does_not_have() -> None:
    old = kops_double.parse_args(["update", "cluster", "--yes", "--instance-group", "nodes"])

    with pytest.raises(kops_double.KopsError, match="unknown flag: --instance-group"):
        kops_double.check_flags_supported(old, (1, 30, 4))
    kops_double.check_flags_supported(old, (1, 31, 0))
