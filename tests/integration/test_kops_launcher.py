"""kops targets, Marea side: RunTask of the runner, the lease, superseded and timed-out runs.

These tests stop at the runner's task: no runner runs here (see test_kops_end_to_end.py for the
runner run locally on the task's behalf), so the task-state events are built from the task.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.models.decisions import Trigger, TriggerType
from marea_local.local_fargate import task_stopped_event
from tests.integration.world import (
    HEADERS,
    KOPS_CLUSTER,
    KOPS_IG,
    RUNNER_CLUSTER,
    kops_target,
    make_asg,
    make_runner_cluster,
    minute_floor,
    publish_cpu,
    register,
)

ASG = f"{KOPS_IG}.{KOPS_CLUSTER}"
MINUTE = timedelta(minutes=1)


@pytest.fixture
def kops(client: Any, clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    make_asg(clients, name=ASG, desired=2)
    runner = make_runner_cluster(clients, monkeypatch)
    register(client, "nodes", kops_target())
    return runner


def runner_tasks(clients: dict[str, Any]) -> list[dict[str, Any]]:
    arns = clients["ecs"].list_tasks(cluster=RUNNER_CLUSTER)["taskArns"]
    return clients["ecs"].describe_tasks(cluster=RUNNER_CLUSTER, tasks=arns)["tasks"] if arns else []


def evaluate(at: datetime | None = None, event_id: str | None = None) -> Any:
    stored = wiring.registry().require("nodes")
    return wiring.evaluator().evaluate(
        stored, Trigger(type=TriggerType.MANUAL, event_id=event_id, at=at or datetime.now(UTC))
    )


def stop(client: Any, clients: dict[str, Any], task: dict[str, Any], exit_code: int) -> Any:
    event = task_stopped_event(task, exit_code, "Essential container in task exited", datetime.now(UTC), "123456789012")
    return client.lambda_.invoke("on_runner_task_stopped", event).payload


def test_a_scale_out_starts_the_runner_with_the_new_sizes_and_stays_pending(
    client: Any, clients: dict[str, Any], kops: Any
) -> None:
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])

    decision = client.http.post("/targets/nodes/evaluate").json_body

    assert (decision["action"], decision["final"], decision["outcome"]) == ("out", 4, "pending")
    assert "RUNNER_STARTED" in decision["reasons"]
    [task] = runner_tasks(clients)
    assert task["startedBy"] == decision["id"]
    assert task["group"] == "marea-kops-runner"
    # The decision id is all RunTask passes: the runner reads its request from the decision.
    assert task["overrides"]["containerOverrides"] == [
        {"name": "kops-runner", "environment": [{"name": "MAREA_DECISION_ID", "value": decision["id"]}]}
    ]
    request = wiring.decision_log().runner_request(decision["id"])
    assert request == {
        "target_kind": "kops",
        "cluster": KOPS_CLUSTER,
        "state_store": "s3://marea-kops-state",
        "instance_group": KOPS_IG,
        "min_size": 4,
        "max_size": 4,  # pinned
        "deadline": request["deadline"],
    }
    # The runner gives up 60 s before its 900 s lease expires, so it never acts after another may start.
    deadline = datetime.fromisoformat(str(request["deadline"]).replace("Z", "+00:00"))
    started_at = datetime.fromisoformat(decision["created_at"])
    assert timedelta(seconds=835) <= deadline - started_at <= timedelta(seconds=845)
    assert decision["inputs"]["actuation_reference"] == task["taskArn"]
    # never through the ASG: kops would undo it
    group = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[ASG])["AutoScalingGroups"][0]
    assert (group["DesiredCapacity"], group["MinSize"], group["MaxSize"]) == (2, 1, 20)


def test_the_runner_runs_where_the_stage_settings_say_not_where_a_target_says(
    client: Any, clients: dict[str, Any], kops: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import aws

    monkeypatch.setenv("MAREA_KOPS_RUNNER_ASSIGN_PUBLIC_IP", "true")
    wiring.reset()
    sent: list[dict[str, Any]] = []
    aws.ecs().meta.events.register("provide-client-params.ecs.RunTask", lambda params, **_: sent.append(params))
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])

    assert client.http.post("/targets/nodes/evaluate").json_body["outcome"] == "pending"

    [request] = sent
    assert (request["cluster"], request["taskDefinition"]) == (RUNNER_CLUSTER, kops["task_definition"])
    assert request["networkConfiguration"] == {
        "awsvpcConfiguration": {
            "subnets": kops["subnets"],
            "securityGroups": kops["security_groups"],
            "assignPublicIp": "ENABLED",
        }
    }
    assert request["overrides"]["containerOverrides"][0]["name"] == "kops-runner"


def test_a_stage_without_a_runner_fails_a_kops_change_saying_what_to_set(
    client: Any, clients: dict[str, Any], kops: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CLUSTER", "TASK_DEFINITION", "SUBNETS", "SECURITY_GROUPS"):
        monkeypatch.delenv(f"MAREA_KOPS_RUNNER_{name}")
    wiring.reset()
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])

    decision = client.http.post("/targets/nodes/evaluate").json_body

    assert decision["outcome"] == "failed"
    assert "this stage runs no kops runner: set MAREA_KOPS_RUNNER_CLUSTER" in decision["error"]
    assert runner_tasks(clients) == []


def test_floor_sizing_keeps_max_at_the_targets_max(client: Any, clients: dict[str, Any], kops: Any) -> None:
    register(client, "nodes", kops_target(sizing="floor"))
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])
    client.http.post("/targets/nodes/evaluate")
    [task] = runner_tasks(clients)
    request = wiring.decision_log().runner_request(task["startedBy"])
    assert request is not None
    assert (request["min_size"], request["max_size"]) == (4, 10)


def test_while_a_runner_runs_no_second_one_starts_and_the_newest_decision_waits(
    client: Any, clients: dict[str, Any], kops: Any
) -> None:
    minute = minute_floor(datetime.now(UTC))
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90], end=minute - 2 * MINUTE)
    first = evaluate()
    publish_cpu(clients["cloudwatch"], ASG, [99, 99, 99], end=minute - 2 * MINUTE)  # now asks for 4 again: in progress
    same = evaluate()
    # The load rises as instances come into service; the datapoints began before any evaluation saw
    # them, so each is sized from the 2 it was measured over.
    clients["autoscaling"].set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=3)
    publish_cpu(clients["cloudwatch"], ASG, [140], end=minute - MINUTE)
    queued_a = evaluate()  # ceil(2 x 140 / 50) = 6: queued
    clients["autoscaling"].set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=4)
    publish_cpu(clients["cloudwatch"], ASG, [190], end=minute)
    queued_b = evaluate()  # ceil(2 x 190 / 50) = 8: queued, supersedes queued_a

    assert len(runner_tasks(clients)) == 1
    assert (first.outcome, first.final) == ("pending", 4)
    assert (same.outcome, same.reasons[-1]) == ("skipped", "ACTUATION_IN_PROGRESS")
    assert (queued_b.outcome, queued_b.final, queued_b.reasons[-1]) == ("pending", 8, "RUNNER_BUSY")
    superseded = wiring.decision_log().get(queued_a.id)
    assert superseded is not None
    assert (superseded.outcome, superseded.reasons[-1]) == ("skipped", "SUPERSEDED")

    # the runner stops: its decision closes, the queued one gets the lease and a runner
    [task] = runner_tasks(clients)
    stop(client, clients, task, exit_code=0)
    closed = wiring.decision_log().get(first.id)
    assert closed is not None
    assert closed.outcome == "failed"  # exit 0 but no runner_result written: never "applied" on faith
    tasks = runner_tasks(clients)
    assert len(tasks) == 2
    newest = next(t for t in tasks if t["taskArn"] != task["taskArn"])
    assert newest["startedBy"] == queued_b.id


def test_a_failed_runner_fails_its_decision_with_the_reason(client: Any, clients: dict[str, Any], kops: Any) -> None:
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])
    decision = evaluate()
    [task] = runner_tasks(clients)
    payload = stop(client, clients, task, exit_code=3)
    assert payload["decisions"][0]["outcome"] == "failed"
    closed = wiring.decision_log().get(decision.id)
    assert closed is not None
    assert "exit code 3" in (closed.error or "")
    assert "RUNNER_FAILED" in closed.reasons
    # a duplicate of the event changes nothing
    assert "ignored" in stop(client, clients, task, exit_code=3)


def test_a_runner_that_never_reports_is_failed_by_the_next_evaluation_after_its_timeout(
    client: Any, clients: dict[str, Any], kops: Any
) -> None:
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])
    start = datetime.now(UTC)
    lost = evaluate(at=start)
    later_at = start + timedelta(seconds=960)  # the lease runs 900 s from when RunTask returned
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90], end=later_at)  # still overloaded then
    later = evaluate(at=later_at, event_id="later")
    closed = wiring.decision_log().get(lost.id)
    assert closed is not None
    assert (closed.outcome, closed.reasons[-1]) == ("failed", "RUNNER_TIMEOUT")
    assert later.outcome == "pending"  # the lease was free again: a new runner started
    assert len(runner_tasks(clients)) == 2


def test_advise_mode_starts_no_runner(client: Any, clients: dict[str, Any], kops: Any) -> None:
    register(client, "nodes", kops_target(mode="advise"))
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])
    decision = client.http.post("/targets/nodes/evaluate").json_body
    assert (decision["final"], decision["outcome"]) == (4, "recommended")
    assert runner_tasks(clients) == []


def test_task_events_of_other_tasks_are_ignored(client: Any, clients: dict[str, Any], kops: Any) -> None:
    task = {
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/x/1",
        "clusterArn": "c",
        "group": "service:web",
        "startedBy": "ecs-svc",
    }
    assert "ignored" in stop(client, clients, task, exit_code=0)


def runner_and_queued(clients: dict[str, Any]) -> tuple[Any, Any]:
    """A runner in flight for 4, and a decision for 6 queued behind it."""
    minute = minute_floor(datetime.now(UTC))
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90], end=minute - MINUTE)
    running = evaluate()
    clients["autoscaling"].set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=3)
    publish_cpu(clients["cloudwatch"], ASG, [150], end=minute)  # over the 2 before the 3rd: ceil(2 x 150 / 50)
    queued = evaluate()
    assert (running.final, queued.final, queued.reasons[-1]) == (4, 6, "RUNNER_BUSY")
    return running, queued


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"paused": True}, "the target was paused while it waited"),
        ({"mode": "advise"}, "the target was switched to advise mode while it waited"),
        ({"max": 5}, "its size 6 is outside the target's [1, 5] now"),
    ],
    ids=["paused", "advise", "max-lowered"],
)
def test_a_queued_decision_is_checked_against_the_target_when_the_runner_stops(
    client: Any, clients: dict[str, Any], kops: Any, change: dict[str, Any], why: str
) -> None:
    running, queued = runner_and_queued(clients)
    register(client, "nodes", kops_target(**change))
    [task] = runner_tasks(clients)

    stop(client, clients, task, exit_code=0)

    assert [t["startedBy"] for t in runner_tasks(clients)] == [running.id]  # no runner for the stale 6
    skipped = wiring.decision_log().get(queued.id)
    assert skipped is not None
    assert (skipped.outcome, skipped.reasons[-1]) == ("skipped", "SUPERSEDED")
    assert skipped.explanation.endswith(f"Superseded before its runner started: {why}.")


def test_a_newer_evaluation_that_wants_no_change_supersedes_the_queued_decision(
    client: Any, clients: dict[str, Any], kops: Any
) -> None:
    running, queued = runner_and_queued(clients)
    later = datetime.now(UTC) + timedelta(minutes=4)
    publish_cpu(clients["cloudwatch"], ASG, [45, 45, 45], end=later)  # 3 at 45 % of 50: within tolerance
    assert evaluate(at=later).action == "none"
    [task] = runner_tasks(clients)

    stop(client, clients, task, exit_code=0)

    assert [t["startedBy"] for t in runner_tasks(clients)] == [running.id]
    superseded = wiring.decision_log().get(queued.id)
    assert superseded is not None
    assert superseded.reasons[-1] == "SUPERSEDED"


def test_a_runner_whose_lease_expired_is_stopped_before_another_starts_and_its_late_completion_is_ignored(
    client: Any, clients: dict[str, Any], kops: Any
) -> None:
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])
    start = datetime.now(UTC)
    lost = evaluate(at=start)
    [old_task] = runner_tasks(clients)
    later_at = start + timedelta(seconds=960)  # the lease runs 900 s from when RunTask returned
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90], end=later_at)

    later = evaluate(at=later_at, event_id="later")

    tasks = {t["startedBy"]: t for t in runner_tasks(clients)}
    assert tasks[lost.id]["desiredStatus"] == "STOPPED"  # StopTask, before the new RunTask
    assert tasks[lost.id]["stoppedReason"] == f"Marea: the lease of decision {lost.id} expired"
    assert tasks[later.id]["desiredStatus"] == "RUNNING"
    # the old task's STOPPED event arrives: it closes nothing and passes no lease
    assert "ignored" in stop(client, clients, old_task, exit_code=0)
    old = wiring.decision_log().get(lost.id)
    assert old is not None
    assert (old.outcome, old.reasons[-1]) == ("failed", "RUNNER_TIMEOUT")
    assert "after its lease had passed" in old.inputs["late_completion"]
    assert wiring.registry().require("nodes").state.in_flight.decision_id == later.id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state_store", "s3://marea-kops-state/$(id)"),
        ("state_store", "s3://marea-kops-state/a b"),
        ("cluster_name", "a..b"),
    ],
)
def test_a_name_the_runner_would_refuse_is_refused_at_registration(
    client: Any, clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch, field: str, value: str
) -> None:
    make_runner_cluster(clients, monkeypatch)
    response = client.http.put("/targets/nodes", headers=HEADERS, body=json.dumps(kops_target(**{field: value})))
    assert response.status_code == 400, response.json_body
    assert field in response.json_body["message"]
    assert wiring.registry().get("nodes") is None


def forged_task(clients: dict[str, Any], runner: dict[str, Any], decision_id: str) -> dict[str, Any]:
    """A task anyone allowed RunTask on the runner's task definition can start: startedBy and group are the
    caller's to choose (ECS RunTask), so they name the pending decision, as Marea's own runner does."""
    definition = runner_tasks(clients)[0]["taskDefinitionArn"]
    task: dict[str, Any] = clients["ecs"].run_task(
        cluster=RUNNER_CLUSTER,
        taskDefinition=definition,
        launchType="FARGATE",
        group="marea-kops-runner",
        startedBy=decision_id,
        networkConfiguration={"awsvpcConfiguration": {"subnets": list(runner["subnets"]), "securityGroups": []}},
    )["tasks"][0]
    return task


@pytest.mark.parametrize("forgery", ["another-task", "another-cluster"])
def test_a_stopped_event_of_a_task_marea_did_not_start_leaves_the_decision_pending(
    client: Any, clients: dict[str, Any], kops: Any, forgery: str
) -> None:
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])
    decision = evaluate()
    [genuine] = runner_tasks(clients)
    if forgery == "another-task":
        task = forged_task(clients, kops, decision.id)
    else:  # the runner's task ARN, in an event of a cluster that is not the stage's runner cluster
        task = {**genuine, "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/another-cluster"}

    assert "ignored" in stop(client, clients, task, exit_code=0)

    assert wiring.decision_log().get(decision.id).outcome == "pending"  # type: ignore[union-attr]
    payload = stop(client, clients, genuine, exit_code=3)  # the real runner's event still closes it
    assert payload["decisions"][0]["outcome"] == "failed"
