"""An alarm on a kops target, end to end: alarm event → decision → RunTask → the runner (run
locally, as moto starts no containers) resizes the instance group through the kops double →
ECS Task State Change → decision applied."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import yaml

from chalicelib import wiring
from marea_local.demo_resources import put_alarm, register_kops_runner_task_definition, runner_settings
from marea_local.event_pump import EventPump
from marea_local.kops_local import run_runner_locally, seed_kops_cluster
from marea_local.local_fargate import LocalFargate
from tests.integration.world import KOPS_CLUSTER, KOPS_IG, kops_target, make_runner_cluster, publish_cpu, register

ASG = f"{KOPS_IG}.{KOPS_CLUSTER}"
ALARM = "nodes-cpu-high"
BUCKET = "marea-kops-state"


@pytest.fixture
def kops_cluster(client: Any, clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seed_kops_cluster(boto3.client("s3"), clients["autoscaling"], clients["ec2"], BUCKET, KOPS_CLUSTER, KOPS_IG, 2, 2)
    put_alarm(
        clients["cloudwatch"],
        ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": ASG},
        threshold=80,
    )
    return make_runner_cluster(clients, monkeypatch)


def with_step_policy(**overrides: Any) -> dict[str, Any]:
    body = kops_target(**overrides)
    body["policies"].append(
        {
            "type": "step",
            "name": "burst",
            "alarm_name": ALARM,
            "adjustment_type": "change_in_capacity",
            "steps": [{"lower_bound": 0, "adjustment": 1}],
        }
    )
    return body


def alarm_event(clients: dict[str, Any]) -> dict[str, Any]:
    end = publish_cpu(clients["cloudwatch"], ASG, [90.0] * 4)
    events: list[dict[str, Any]] = []
    EventPump(
        clients["cloudwatch"], events.append, lambda _e: None, clock=lambda: end + timedelta(minutes=1, seconds=30)
    ).step()
    [event] = [e for e in events if e["detail"]["state"]["value"] == "ALARM"]
    return event


def instance_group_sizes() -> tuple[int, int]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"{KOPS_CLUSTER}/instancegroup/{KOPS_IG}")["Body"].read()
    spec = yaml.safe_load(body)["spec"]
    return spec["minSize"], spec["maxSize"]


def asg_sizes(clients: dict[str, Any]) -> tuple[int, int, int]:
    group = clients["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[ASG])["AutoScalingGroups"][0]
    return group["MinSize"], group["MaxSize"], group["DesiredCapacity"]


def test_act_mode_resizes_the_instance_group_through_the_runner(
    client: Any, clients: dict[str, Any], kops_cluster: Any
) -> None:
    register(client, "nodes", with_step_policy())

    payload = client.lambda_.invoke("on_alarm_state_change", alarm_event(clients)).payload
    [summary] = payload["decisions"]
    assert (summary["outcome"], summary["final"]) == ("pending", 4)  # ceil(2 x 90 / 50)
    assert instance_group_sizes() == (2, 2)  # nothing changes before the runner runs

    fargate = LocalFargate(
        clients["ecs"], run_runner_locally, lambda e: client.lambda_.invoke("on_runner_task_stopped", e).payload
    )
    [(event, result)] = fargate.step()

    assert event["detail"]["containers"][0]["exitCode"] == 0
    assert result["decisions"][0]["outcome"] == "applied"
    decision = wiring.decision_log().get(summary["id"])
    assert decision is not None
    assert decision.outcome == "applied"
    assert decision.inputs["runner_result"]["status"] == "applied"
    assert instance_group_sizes() == (4, 4)
    assert asg_sizes(clients) == (4, 4, 4)
    assert fargate.step() == []  # each runner task runs once


def test_advise_mode_recommends_and_starts_no_runner(client: Any, clients: dict[str, Any], kops_cluster: Any) -> None:
    register(client, "nodes", with_step_policy(mode="advise"))
    payload = client.lambda_.invoke("on_alarm_state_change", alarm_event(clients)).payload
    assert [(d["outcome"], d["final"]) for d in payload["decisions"]] == [("recommended", 4)]
    fargate = LocalFargate(clients["ecs"], run_runner_locally, lambda e: None)
    assert fargate.step() == []
    assert instance_group_sizes() == (2, 2)
    assert asg_sizes(clients) == (2, 2, 2)


def test_a_runner_refusing_the_request_fails_the_decision_with_its_reason(
    client: Any, clients: dict[str, Any], kops_cluster: Any
) -> None:
    # The runner's own safety cap, pinned in a newer revision of its task definition (RunTask takes the newest).
    table = os.environ["MAREA_DECISIONS_TABLE"]
    pinned = runner_settings(KOPS_CLUSTER, f"s3://{BUCKET}", [KOPS_IG], table, {"MAREA_MAX_NODES": "3"})
    register_kops_runner_task_definition(clients["ecs"], kops_cluster["task_definition"], pinned)
    register(client, "nodes", with_step_policy(max=60))
    client.lambda_.invoke("on_alarm_state_change", alarm_event(clients))
    fargate = LocalFargate(
        clients["ecs"], run_runner_locally, lambda e: client.lambda_.invoke("on_runner_task_stopped", e).payload
    )
    [(_event, result)] = fargate.step()
    assert result["decisions"][0]["outcome"] == "failed"
    [decision] = client.http.get("/decisions?target=nodes").json_body["decisions"]
    assert "exit code 2" in decision["error"]
    assert instance_group_sizes() == (2, 2)


def test_a_runner_task_stopped_before_fargate_ran_it_is_never_run_and_reports_stopped(
    client: Any, clients: dict[str, Any], kops_cluster: Any
) -> None:
    """The lease of a runner Fargate had not run yet expired: Marea stopped its task (StopTask), and a
    new runner started. Fargate runs only the new one; the stopped task's STOPPED event still comes, as
    AWS sends it, with no exit code (its container never ran). Regression: moto lists stopped tasks, and
    LocalFargate ran the stopped runner after the new one."""
    from chalicelib.models.decisions import Trigger, TriggerType

    register(client, "nodes", with_step_policy())
    [summary] = client.lambda_.invoke("on_alarm_state_change", alarm_event(clients)).payload["decisions"]
    later = datetime.now(UTC) + timedelta(seconds=960)  # the lease runs 900 s from when RunTask returned
    publish_cpu(clients["cloudwatch"], ASG, [90.0] * 4, end=later)
    stored = wiring.registry().require("nodes")
    newer = wiring.evaluator().evaluate(stored, Trigger(type=TriggerType.MANUAL, event_id="later", at=later))
    assert newer.outcome == "pending"  # the expired runner's task was stopped, a new one started

    ran: list[str] = []

    def recording_runner(task: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ran.append(task["startedBy"])
        return run_runner_locally(task)

    delivered: list[dict[str, Any]] = []
    fargate = LocalFargate(clients["ecs"], recording_runner, delivered.append)
    fargate.step()

    assert ran == [newer.id]
    by_decision = {event["detail"]["startedBy"]: event["detail"] for event in delivered}
    assert set(by_decision) == {summary["id"], newer.id}
    stopped = by_decision[summary["id"]]
    assert (stopped["stopCode"], "exitCode" in stopped["containers"][0]) == ("UserInitiated", False)
    assert stopped["stoppedReason"] == f"Marea: the lease of decision {summary['id']} expired"
    assert fargate.step() == []  # each task is reported once
