"""The kops runner end to end: its task in moto's ECS → its decision in DynamoDB → kops (test double) → moto's
S3 state store and Auto Scaling.

Most cases call `run.main` in this process with the testing entry's platform (the kops calls are still real
subprocesses of the double); the happy path runs the testing entry as its own `python -I` process, as
LocalFargate does. Each RunTask here passes only MAREA_DECISION_ID unless the test says otherwise.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from kops_runner import run
from kops_runner.outcome import Outcome, Sizes, Status, record
from kops_runner.resize import Resize
from marea_local.kops_local import run_runner_locally
from tests.kops_runner.conftest import BUCKET, CLUSTER, CONTROL_PLANE, NODES, KopsWorld, in_s

pytestmark = pytest.mark.integration


def run_main(world: KopsWorld, capsys: pytest.CaptureFixture[str], task: dict[str, Any], **double_env: str) -> Any:
    code = run.main(world.platform(task, **double_env))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, "stdout carries exactly one line: the outcome"
    return code, json.loads(lines[0])


def test_apply_resizes_the_instance_group_and_its_asg_and_records_the_outcome(world: KopsWorld) -> None:
    # Given a node group at 2..2 and a decision waiting for the runner
    decision_id = world.new_decision(3, 5)

    # When the runner runs as LocalFargate runs it for the task Marea started
    code, outcome = run_runner_locally(world.start(decision_id))

    # Then kops changed the instance group, kops update cluster set the ASG, and the outcome says so
    assert code == 0, outcome
    assert world.ig_sizes() == (3, 5)
    assert world.asg_sizes() == (3, 5)
    assert outcome == {
        "decision_id": decision_id,
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
    assert world.runner_result(decision_id) == outcome
    # kops records the version that last applied the cluster
    assert world.s3.get_object(Bucket=BUCKET, Key=f"{CLUSTER}/kops-version.txt")["Body"].read() == b"1.36.2"


def test_pinned_to_dry_run_it_only_runs_the_dry_run(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    world.pin(apply=False)
    decision_id = world.new_decision(3, 5)

    code, outcome = run_main(world, capsys, world.start(decision_id))

    assert code == 0
    assert (outcome["status"], outcome["applied"], outcome["dry_run"]) == ("dry_run", False, True)
    assert outcome["previous"] == {"min": 2, "max": 2}
    assert "would set instance group nodes-us-east-1a of k8s.example.com to minSize 3, maxSize 5" in outcome["message"]
    assert (world.ig_sizes(), world.asg_sizes()) == ((2, 2), (2, 2))
    assert world.runner_result(decision_id) == outcome


def test_a_missing_instance_group_is_a_bad_request(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    world.pin(MAREA_INSTANCE_GROUPS=f"{NODES},nodes-eu-west-9z")
    decision_id = world.new_decision(3, 5, instance_group="nodes-eu-west-9z")

    code, outcome = run_main(world, capsys, world.start(decision_id))

    assert (code, outcome["status"], outcome["applied"]) == (2, "bad_request", False)
    assert 'instancegroup not found "nodes-eu-west-9z"' in outcome["message"]
    assert outcome["kops_version"] == "1.36.2"
    assert world.runner_result(decision_id) == outcome


def test_a_control_plane_group_is_refused(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    decision_id = world.new_decision(3, 3, instance_group=CONTROL_PLANE)

    code, outcome = run_main(world, capsys, world.start(decision_id))

    assert (code, outcome["status"]) == (2, "bad_request")
    assert "has role ControlPlane, not Node" in outcome["message"]
    assert outcome["previous"] == {"min": 1, "max": 1}
    assert world.ig_sizes(CONTROL_PLANE) == (1, 1)
    assert world.asg_sizes(world.control_plane.asg_name) == (1, 1)


@pytest.mark.parametrize(
    ("request_", "pinned", "says"),
    [
        ({"min_size": 5, "max_size": 3}, {}, "min_size 5 is above max_size 3"),
        ({"max_size": 40}, {"MAREA_MAX_NODES": "20"}, "max_size 40 is above the safety cap MAREA_MAX_NODES 20"),
        ({"instance_group": "nodes-other"}, {}, "instance group nodes-other is not one this runner may resize"),
        ({"cluster": "other.example.com"}, {}, "cluster other.example.com is not this runner's (k8s.example.com)"),
        ({"state_store": "s3://other-state"}, {}, "state store s3://other-state is not this runner's"),
        ({"min_size": -1}, {}, "min_size: Input should be greater than or equal to 0"),
        ({"target_kind": "asg"}, {}, "target_kind: Input should be 'kops'"),
        ({"state_store": "s3://kops-state-store/$(id)"}, {}, "state_store: String should match pattern"),
    ],
)
def test_a_request_this_runner_may_not_run_is_refused_before_kops_runs(
    world: KopsWorld,
    capsys: pytest.CaptureFixture[str],
    request_: dict[str, Any],
    pinned: dict[str, str],
    says: str,
) -> None:
    if pinned:
        world.pin(**pinned)
    decision_id = world.new_decision(**{"min_size": 2, "max_size": 4, **request_})

    # A kops that fails every call would show in the message: kops is never called.
    code, outcome = run_main(world, capsys, world.start(decision_id), KOPS_DOUBLE_FAIL="version,get,edit,update")

    assert (code, outcome["status"], outcome["requested"], outcome["kops_version"]) == (2, "bad_request", None, None)
    assert says in outcome["message"]
    assert outcome["decision_id"] == decision_id
    assert world.runner_result(decision_id) == outcome
    assert (world.ig_sizes(), world.asg_sizes()) == ((2, 2), (2, 2))


def test_a_decision_is_run_by_one_task_only(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a pending decision for which any holder of Marea's role starts a second task beside Marea's
    decision_id = world.new_decision(3, 5)
    first, second = world.start(decision_id), world.start(decision_id)
    code, applied = run_main(world, capsys, first)
    assert (code, applied["status"]) == (0, "applied")

    # When the second runs (the decision still pending: Marea closes it on the first's STOPPED event)
    code, outcome = run_main(world, capsys, second, KOPS_DOUBLE_FAIL="version,get,edit,update")

    # Then it is refused before kops runs, and the first's outcome stays on the decision
    assert (code, outcome["status"], outcome["kops_version"]) == (2, "bad_request", None)
    assert f"decision {decision_id} is already claimed by another runner task" in outcome["message"]
    assert world.runner_result(decision_id) == applied
    claim = world.dynamodb.get_item(TableName=world.decisions_table, Key={"id": {"S": decision_id}})["Item"]
    assert claim["runner_claim"] == {"S": first["taskArn"]}


def test_a_deadline_beyond_the_longest_lease_is_refused(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    # Marea's deadline is its lease (at most 3600 s, KopsTarget.runner_timeout_s) less a margin, from RunTask.
    decision_id = world.new_decision(3, 5, deadline=in_s(3600 + 300))

    code, outcome = run_main(world, capsys, world.start(decision_id), KOPS_DOUBLE_FAIL="version,get,edit,update")

    assert (code, outcome["status"]) == (2, "bad_request")
    assert "is more than 3600 s after its task was created" in outcome["message"]
    assert (world.ig_sizes(), world.asg_sizes()) == ((2, 2), (2, 2))


@pytest.mark.parametrize("outcome_", ["applied", "failed", "skipped"])
def test_a_decision_no_longer_pending_is_not_run(
    world: KopsWorld, capsys: pytest.CaptureFixture[str], outcome_: str
) -> None:
    decision_id = world.new_decision(3, 5, outcome=outcome_)

    code, outcome = run_main(world, capsys, world.start(decision_id))

    assert (code, outcome["status"]) == (2, "bad_request")
    assert f"decision {decision_id} is {outcome_}, not pending" in outcome["message"]
    assert (world.ig_sizes(), world.asg_sizes()) == ((2, 2), (2, 2))


def test_a_decision_that_does_not_exist_is_not_run_nor_created(
    world: KopsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = "01J00000000000000000000000"

    code, outcome = run_main(world, capsys, world.start(unknown))

    assert (code, outcome["status"]) == (2, "bad_request")
    assert "does not exist" in outcome["message"]
    assert world.runner_result(unknown) is None
    assert "Item" not in world.dynamodb.get_item(TableName=world.decisions_table, Key={"id": {"S": unknown}})


def test_a_task_definition_without_instance_groups_runs_nothing(
    world: KopsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.pin(MAREA_INSTANCE_GROUPS="")
    decision_id = world.new_decision(3, 5)

    code, outcome = run_main(world, capsys, world.start(decision_id))

    assert (code, outcome["status"]) == (2, "bad_request")
    assert "MAREA_INSTANCE_GROUPS" in outcome["message"]
    assert world.ig_sizes() == (2, 2)


def test_a_failing_kops_update_is_a_kops_failure(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    decision_id = world.new_decision(3, 5)

    code, outcome = run_main(world, capsys, world.start(decision_id), KOPS_DOUBLE_FAIL="update")

    assert (code, outcome["status"], outcome["applied"]) == (3, "kops_failed", False)
    assert outcome["message"].startswith("instance group spec set to 3..5 but kops update cluster exited with 1")
    assert world.asg_sizes() == (2, 2)
    assert world.runner_result(decision_id) == outcome


def test_a_kops_call_that_hangs_is_killed_at_the_timeout(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    # `kops version` is the first call and, in the double, one that loads no AWS SDK: quick even on a busy machine.
    world.pin(MAREA_KOPS_TIMEOUT_S="2")
    decision_id = world.new_decision(3, 5)

    code, outcome = run_main(world, capsys, world.start(decision_id), KOPS_DOUBLE_FAIL="version-hangs")

    assert (code, outcome["status"]) == (3, "kops_failed")
    assert outcome["message"] == "kops version timed out after 2 s"
    assert world.ig_sizes() == (2, 2)


def test_a_run_whose_deadline_has_passed_changes_nothing(world: KopsWorld, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a runner that starts after Marea's lease on the group has (nearly) run out
    decision_id = world.new_decision(3, 5, deadline=in_s(-1))

    code, outcome = run_main(world, capsys, world.start(decision_id))

    assert (code, outcome["status"], outcome["applied"]) == (5, "deadline_passed", False)
    assert "deadline passed before kops version" in outcome["message"]
    assert world.ig_sizes() == (2, 2)
    assert world.runner_result(decision_id) == outcome


def test_a_kops_call_that_hangs_is_cut_short_at_the_deadline_not_at_its_own_timeout(
    world: KopsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    # Each kops call may take 600 s; the whole run may not outlast its deadline, 10 s away.
    decision_id = world.new_decision(3, 5, deadline=in_s(10))
    started = time.monotonic()

    code, outcome = run_main(world, capsys, world.start(decision_id), KOPS_DOUBLE_FAIL="version-hangs")

    assert (code, outcome["status"]) == (5, "deadline_passed")
    assert outcome["message"].startswith("kops version")  # cut at the deadline (or, on a slow start, before it)
    assert time.monotonic() - started < 60  # not the 600 s of one kops call
    assert world.ig_sizes() == (2, 2)


def test_an_asg_that_does_not_follow_is_a_verification_failure(
    world: KopsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a kops that reports success but leaves the ASG as it was
    world.pin(MAREA_VERIFY_ATTEMPTS="2")
    decision_id = world.new_decision(3, 5)

    code, outcome = run_main(world, capsys, world.start(decision_id), KOPS_DOUBLE_FAIL="update-skips-asg")

    assert (code, outcome["status"], outcome["applied"]) == (4, "verification_failed", False)
    assert "shows MinSize 2, MaxSize 2 after 2 reads, expected MinSize 3, MaxSize 5" in outcome["message"]
    assert world.ig_sizes() == (3, 5)


def test_kops_older_than_1_31_updates_the_cluster_without_instance_group_flag(
    world: KopsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    # The double, like kops 1.30, rejects --instance-group as an unknown flag; the state store says 1.30 applied last.
    world.s3.put_object(Bucket=BUCKET, Key=f"{CLUSTER}/kops-version.txt", Body=b"1.30.4")
    world.pin(apply=False)
    decision_id = world.new_decision(0, 4)

    code, outcome = run_main(world, capsys, world.start(decision_id), KOPS_DOUBLE_VERSION="1.30.4")

    assert (code, outcome["status"], outcome["kops_version"]) == (0, "dry_run", "1.30.4")


def test_an_unexpected_error_is_reported_with_exit_code_1(
    world: KopsWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: Resize) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(Resize, "run", broken)

    code, outcome = run_main(world, capsys, world.start(world.new_decision(3, 5)))

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

    assert (
        record(lambda: world.dynamodb, world.decisions_table, outcome, "arn:aws:ecs:us-east-1:123456789012:task/x")
        is False
    )
    assert "Item" not in world.dynamodb.get_item(TableName=world.decisions_table, Key={"id": {"S": unknown}})


def test_a_decisions_table_that_cannot_be_read_is_an_error_whose_outcome_still_reaches_stdout(
    world: KopsWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.pin(MAREA_DECISIONS_TABLE="marea-nowhere-decisions")
    task = world.start(world.new_decision(3, 5))

    code = run.main(world.platform(task))
    captured = capsys.readouterr()

    assert code == 1
    assert json.loads(captured.out)["status"] == "error"
    assert '"event": "outcome_not_recorded"' in captured.err
    assert "ResourceNotFoundException" in captured.err
    assert world.ig_sizes() == (2, 2)
