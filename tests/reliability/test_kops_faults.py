"""kops runners under AWS faults: RunTask and StopTask failing, task-state events lost, late and duplicated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws as marea_aws
from chalicelib import wiring
from chalicelib.settings import get_settings
from marea_local.embedded_aws import EmbeddedAws
from marea_local.kops_local import run_runner_locally
from marea_local.local_fargate import LocalFargate
from tests.reliability.audit import read_decisions
from tests.reliability.delivery import Delivery, Plan, run_threads
from tests.reliability.embedded import fresh_stack
from tests.reliability.faults import FaultInjector, FaultPlan
from tests.reliability.runners import GROUP, build_kops_world, publish_cpu, runner_tasks, set_alarm
from tests.reliability.scenarios import ALARM, TASK, TICK, kops_faults
from tests.reliability.world import alarm_event, aws_clients, minute, tick_event


def test_kops_runners_under_faults_start_once_one_at_a_time_only_where_allowed_and_settle(aws: EmbeddedAws) -> None:
    """16 simulated minutes: 30 % of all attempts failing, 60 % of RunTask's and StopTask's; task-state events
    duplicated, late, lost; runners hung past their lease; the target paused, in advise, its max lowered."""
    outcome = kops_faults(aws, rate=0.3, rounds=16, runner_rate=0.6)
    outcome.check()
    assert sum(outcome.figures.faults.values()) > 0
    print(outcome.figures.summary())


@pytest.fixture
def kops(aws: EmbeddedAws) -> dict[str, Any]:
    """A kops target at 2 whose CPU has been at 95 % for 3 minutes: it wants 4."""
    fresh_stack(aws)
    clients = aws_clients()
    runner = build_kops_world(clients)
    now = minute(datetime.now(UTC))
    for ago in (3, 2, 1):
        publish_cpu(clients, now - timedelta(minutes=ago), 95.0)
    set_alarm(clients, [95.0, 95.0])
    return {"clients": clients, "cluster": runner["ecs_cluster"], "now": now}


def test_a_runtask_retried_with_its_client_token_starts_one_task_as_on_aws(kops: dict[str, Any]) -> None:
    """The embedded AWS honours RunTask's clientToken (moto alone ignores it): the test double itself."""
    ecs, cluster = kops["clients"]["ecs"], kops["cluster"]
    assert runner_tasks(kops["clients"], cluster) == []
    runner = get_settings().kops_runner()
    assert runner is not None
    request: dict[str, Any] = {
        "cluster": cluster,
        "taskDefinition": runner.task_definition,
        "launchType": "FARGATE",
        "clientToken": "decision-1",
        "networkConfiguration": {
            "awsvpcConfiguration": {"subnets": list(runner.subnets), "securityGroups": list(runner.security_groups)}
        },
    }
    first = ecs.run_task(**request)["tasks"][0]["taskArn"]
    assert ecs.run_task(**request)["tasks"][0]["taskArn"] == first
    assert [t["taskArn"] for t in runner_tasks(kops["clients"], cluster)] == [first]
    with pytest.raises(ecs.exceptions.ClientError, match="ConflictException"):
        ecs.run_task(**{**request, "startedBy": "someone else"})


def test_a_runner_started_though_every_answer_of_its_runtask_was_lost_holds_the_lease(kops: dict[str, Any]) -> None:
    """RunTask carried out, its 4 answers lost, and those of the call asking again: the task runs. No second
    runner may start while it does (regression: the decision failed, the lease was freed and the next
    evaluation started another)."""
    lost = FaultPlan(rate=1.0, kinds=("reply_lost",), operations=("ecs.RunTask",))
    alarm = alarm_event(GROUP, kops["now"], 95.0, recent=[95.0, 95.0, 95.0])
    report = run_threads([Delivery("alarm", ALARM, alarm)], Plan(threads=1, faults=lost))
    assert report.faults["reply_lost"] == 8
    [task] = runner_tasks(kops["clients"], kops["cluster"], desired="RUNNING")

    kops["clients"]["autoscaling"].set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    # Measured over the 2 before the 3rd came into service: ceil(2 x 140 / 50) = 6, waits for the lease
    publish_cpu(kops["clients"], kops["now"], 140.0)
    run_threads([Delivery("tick", TICK, tick_event(kops["now"] + timedelta(seconds=30)))], Plan(threads=1))

    assert [t["taskArn"] for t in runner_tasks(kops["clients"], kops["cluster"], desired="RUNNING")] == [
        task["taskArn"]
    ]
    first, queued = sorted(read_decisions(wiring.decision_log()._table), key=lambda d: d.id)
    assert (first.outcome, queued.outcome, queued.reasons[-1]) == ("pending", "pending", "RUNNER_BUSY")
    assert "may have started it" in first.inputs["actuation"]

    # The runner reports: its decision is applied and the lease passes to the queued one.
    events: list[dict[str, Any]] = []
    LocalFargate(kops["clients"]["ecs"], run_runner_locally, events.append).step()
    run_threads([Delivery("stopped", TASK, event) for event in events], Plan(threads=1))

    by_id = {d.id: d for d in read_decisions(wiring.decision_log()._table)}
    assert by_id[first.id].outcome == "applied"
    assert [t["startedBy"] for t in runner_tasks(kops["clients"], kops["cluster"], desired="RUNNING")] == [queued.id]


def test_a_runtask_whose_answers_were_lost_is_asked_again_with_its_token_and_its_task_is_known(
    kops: dict[str, Any],
) -> None:
    """The same client token and parameters again: ECS answers with the task the first call started, so
    Marea knows which task to stop when its lease expires (regression: no ARN, and an expired runner that
    had not reported could not be stopped before the next one started)."""
    injector = FaultInjector(FaultPlan(rate=1.0, kinds=("reply_lost",), operations=("ecs.RunTask",)))
    injector.install()
    disarm = lambda **_: setattr(injector, "enabled", False)  # noqa: E731 - after the first call's 4 attempts
    marea_aws.ecs().meta.events.register("after-call-error.ecs.RunTask", disarm, unique_id="disarm")
    alarm = alarm_event(GROUP, kops["now"], 95.0, recent=[95.0, 95.0, 95.0])
    try:
        run_threads([Delivery("alarm", ALARM, alarm)], Plan(threads=1))
    finally:
        injector.uninstall()
        marea_aws.ecs().meta.events.unregister("after-call-error.ecs.RunTask", unique_id="disarm")

    assert injector.injected["reply_lost"] == 4
    [task] = runner_tasks(kops["clients"], kops["cluster"])
    [decision] = read_decisions(wiring.decision_log()._table)
    assert (decision.outcome, decision.inputs["actuation_reference"]) == ("pending", task["taskArn"])
    assert wiring.registry().require("nodes").state.in_flight.task_arn == task["taskArn"]  # type: ignore[union-attr]
