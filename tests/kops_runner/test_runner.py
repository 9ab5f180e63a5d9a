"""The kops runner end to end: entrypoint → kops (test double) → moto's S3 state store and Auto Scaling.

Most cases call the entrypoint in this process (the kops calls are still real subprocesses of
the double); the happy path runs `python -m kops_runner` exactly as the Fargate task would.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kops_runner.__main__ import main
from kops_runner.outcome import Outcome, Sizes, Status, record
from kops_runner.resize import Resize
from marea_local.kops_local import run_runner_locally
from tests.kops_runner.conftest import CLUSTER, CONTROL_PLANE, NODES, KopsWorld

pytestmark = pytest.mark.integration


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str]
) -> tuple[int, Any]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, "stdout carries exactly one line: the outcome"
    return code, json.loads(lines[0])


def test_apply_resizes_the_instance_group_and_its_asg_and_records_the_outcome(world: KopsWorld) -> None:
    # Given a node group at 2..2 and a decision waiting for the runner
    env = world.runner_env(3, 5, apply=True)

    # When the runner runs as the Fargate task would
    code, outcome = run_runner_locally(env)

    # Then kops changed the instance group, kops update cluster set the ASG, and the outcome says so
    assert code == 0, outcome
    assert world.ig_sizes() == (3, 5)
    assert world.asg_sizes() == (3, 5)
    assert outcome == {
        "decision_id": env["MAREA_DECISION_ID"],
        "cluster": CLUSTER,
        "instance_group": NODES,
        "requested": {"min": 3, "max": 5},
        "previous": {"min": 2, "max": 2},
        "applied": True,
        "dry_run": False,
        "status": "applied",
        "message": outcome["message"],
        "kops_version": "1.36.2",
    }
    assert "Auto Scaling group nodes-us-east-1a.k8s.example.com has MinSize 3, MaxSize 5" in outcome["message"]
    assert world.runner_result(env["MAREA_DECISION_ID"]) == outcome
    # kops records the version that last applied the cluster
    assert world.s3.get_object(Bucket="kops-state-store", Key=f"{CLUSTER}/kops-version.txt")["Body"].read() == b"1.36.2"


def test_without_the_apply_flag_it_only_runs_the_dry_run(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = world.runner_env(3, 5, apply=False)
    del env["MAREA_APPLY"]

    code, outcome = run_main(monkeypatch, capsys, env)

    assert code == 0
    assert (outcome["status"], outcome["applied"], outcome["dry_run"]) == ("dry_run", False, True)
    assert outcome["previous"] == {"min": 2, "max": 2}
    assert "would set instance group nodes-us-east-1a of k8s.example.com to minSize 3, maxSize 5" in outcome["message"]
    assert world.ig_sizes() == (2, 2)
    assert world.asg_sizes() == (2, 2)
    assert world.runner_result(env["MAREA_DECISION_ID"]) == outcome


def test_a_missing_instance_group_is_a_bad_request(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = world.runner_env(3, 5, apply=True, ig="nodes-eu-west-9z")

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"], outcome["applied"]) == (2, "bad_request", False)
    assert 'instancegroup not found "nodes-eu-west-9z"' in outcome["message"]
    assert outcome["kops_version"] == "1.36.2"
    assert world.runner_result(env["MAREA_DECISION_ID"]) == outcome


def test_a_control_plane_group_is_refused(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, outcome = run_main(monkeypatch, capsys, world.runner_env(3, 3, apply=True, ig=CONTROL_PLANE))

    assert (code, outcome["status"]) == (2, "bad_request")
    assert "has role ControlPlane, not Node" in outcome["message"]
    assert outcome["previous"] == {"min": 1, "max": 1}
    assert world.ig_sizes(CONTROL_PLANE) == (1, 1)
    assert world.asg_sizes(world.control_plane.asg_name) == (1, 1)


@pytest.mark.parametrize(
    ("min_size", "max_size", "extra", "says"),
    [
        ("5", "3", {}, "MAREA_MIN_SIZE 5 is above MAREA_MAX_SIZE 3"),
        ("2", "40", {"MAREA_MAX_NODES": "20"}, "above the safety cap MAREA_MAX_NODES 20"),
        ("-1", "3", {}, "MAREA_MIN_SIZE: Input should be greater than or equal to 0"),
        ("2", "many", {}, "MAREA_MAX_SIZE: Input should be a valid integer"),
    ],
)
def test_an_out_of_range_request_is_refused_before_kops_runs(
    world: KopsWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    min_size: str,
    max_size: str,
    extra: dict[str, str],
    says: str,
) -> None:
    env = world.runner_env(0, 0, apply=True, MAREA_MIN_SIZE=min_size, MAREA_MAX_SIZE=max_size, **extra)
    # A kops that cannot run proves kops is never called.
    env["KOPS_BINARY"] = "/nonexistent/kops"

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"], outcome["requested"], outcome["kops_version"]) == (2, "bad_request", None, None)
    assert says in outcome["message"]
    assert outcome["decision_id"] == env["MAREA_DECISION_ID"]
    assert world.runner_result(env["MAREA_DECISION_ID"]) == outcome
    assert world.ig_sizes() == (2, 2)


def test_a_request_without_cluster_or_state_store_is_a_bad_request(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = world.runner_env(3, 5, apply=True)
    del env["KOPS_CLUSTER_NAME"], env["KOPS_STATE_STORE"]

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"]) == (2, "bad_request")
    assert "KOPS_CLUSTER_NAME: Field required" in outcome["message"]
    assert "KOPS_STATE_STORE: Field required" in outcome["message"]


def test_a_failing_kops_update_is_a_kops_failure(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = world.runner_env(3, 5, apply=True, KOPS_DOUBLE_FAIL="update")

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"], outcome["applied"]) == (3, "kops_failed", False)
    assert outcome["message"].startswith("instance group spec set to 3..5 but kops update cluster exited with 1")
    assert world.asg_sizes() == (2, 2)
    assert world.runner_result(env["MAREA_DECISION_ID"]) == outcome


def test_a_kops_call_that_hangs_is_killed_at_the_timeout(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `kops version` is the first call and, in the double, one that loads no AWS SDK: quick even on a busy machine.
    env = world.runner_env(3, 5, apply=True, KOPS_DOUBLE_FAIL="version-hangs", MAREA_KOPS_TIMEOUT_S="2")

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"]) == (3, "kops_failed")
    assert outcome["message"] == "kops version timed out after 2 s"
    assert world.ig_sizes() == (2, 2)


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_run_whose_deadline_has_passed_changes_nothing(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a runner that starts after Marea's lease on the group has (nearly) run out
    env = world.runner_env(3, 5, apply=True, MAREA_DEADLINE=_in(-1))

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"], outcome["applied"]) == (5, "deadline_passed", False)
    assert "deadline passed before kops version" in outcome["message"]
    assert world.ig_sizes() == (2, 2)
    assert world.runner_result(env["MAREA_DECISION_ID"]) == outcome


def test_a_kops_call_that_hangs_is_cut_short_at_the_deadline_not_at_its_own_timeout(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each kops call may take 600 s; the whole run may not outlast its deadline, 10 s away.
    env = world.runner_env(3, 5, apply=True, KOPS_DOUBLE_FAIL="version-hangs", MAREA_DEADLINE=_in(10))
    started = time.monotonic()

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"]) == (5, "deadline_passed")
    assert outcome["message"].startswith("kops version")  # cut at the deadline (or, on a slow start, before it)
    assert time.monotonic() - started < 60  # not the 600 s of one kops call
    assert world.ig_sizes() == (2, 2)


def test_a_run_within_its_deadline_applies_as_without_one(world: KopsWorld) -> None:
    env = world.runner_env(3, 5, apply=True, MAREA_DEADLINE=_in(840))
    code, outcome = run_runner_locally(env)
    assert (code, outcome["status"]) == (0, "applied")
    assert world.ig_sizes() == (3, 5)


def test_an_asg_that_does_not_follow_is_a_verification_failure(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a kops that reports success but leaves the ASG as it was
    env = world.runner_env(3, 5, apply=True, KOPS_DOUBLE_FAIL="update-skips-asg", MAREA_VERIFY_ATTEMPTS="2")

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"], outcome["applied"]) == (4, "verification_failed", False)
    assert "shows MinSize 2, MaxSize 2 after 2 reads, expected MinSize 3, MaxSize 5" in outcome["message"]
    assert world.ig_sizes() == (3, 5)


def test_kops_older_than_1_31_updates_the_cluster_without_instance_group_flag(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The double, like kops 1.30, rejects --instance-group as an unknown flag; the state store says 1.30 applied last.
    world.s3.put_object(Bucket="kops-state-store", Key=f"{CLUSTER}/kops-version.txt", Body=b"1.30.4")
    env = world.runner_env(0, 4, apply=False, KOPS_DOUBLE_VERSION="1.30.4")

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"], outcome["kops_version"]) == (0, "dry_run", "1.30.4")


def test_an_unexpected_error_is_reported_with_exit_code_1(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: Resize) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Resize, "run", broken)

    code, outcome = run_main(monkeypatch, capsys, world.runner_env(3, 5, apply=True))

    assert (code, outcome["status"], outcome["message"]) == (1, "error", "unexpected RuntimeError: disk full")


def test_the_outcome_never_creates_a_decision(world: KopsWorld) -> None:
    unknown = "01J00000000000000000000000"
    outcome = Outcome(
        decision_id=unknown,
        cluster=CLUSTER,
        instance_group=NODES,
        requested=Sizes(min=3, max=5),
        previous=None,
        applied=False,
        dry_run=True,
        status=Status.DRY_RUN,
        message="m",
        kops_version=None,
    )

    assert record(lambda: world.dynamodb, world.decisions_table, outcome) is False
    assert "Item" not in world.dynamodb.get_item(TableName=world.decisions_table, Key={"id": {"S": unknown}})


def test_without_a_decisions_table_only_stdout_carries_the_outcome(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = world.runner_env(5, 3, apply=False)
    del env["MAREA_DECISIONS_TABLE"]

    code, outcome = run_main(monkeypatch, capsys, env)

    assert (code, outcome["status"]) == (2, "bad_request")
    assert world.runner_result(env["MAREA_DECISION_ID"]) is None


def test_an_outcome_that_cannot_be_recorded_keeps_its_exit_code(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = world.runner_env(5, 3, apply=True, MAREA_DECISIONS_TABLE="marea-nowhere-decisions")

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main()
    captured = capsys.readouterr()

    assert code == 2
    assert json.loads(captured.out)["status"] == "bad_request"
    assert '"event": "outcome_not_recorded"' in captured.err
    assert "ResourceNotFoundException" in captured.err
