"""Manual evaluation and the decision-log API against the embedded AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.world import asg_desired, asg_target, make_asg, make_service, publish_cpu, register


@pytest.fixture
def web(client: Any, clients: dict[str, Any]) -> None:
    make_asg(clients, desired=2)
    register(client, "web", asg_target())


def test_given_an_overloaded_asg_when_evaluated_manually_then_it_scales_out_and_records_why(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])

    decision = client.http.post("/targets/web/evaluate").json_body

    assert decision["action"] == "out"
    assert decision["outcome"] == "applied"
    assert (decision["current"], decision["final"]) == (2, 4)  # ceil(2 x 90 / 50)
    assert "ABOVE_TARGET" in decision["reasons"]
    assert decision["trigger"]["type"] == "manual"
    assert decision["created_at"].endswith("Z")
    assert asg_desired(clients) == 4
    assert client.http.get(f"/decisions/{decision['id']}").json_body == decision


def test_given_advise_mode_when_evaluated_then_aws_is_untouched_but_the_same_decision_is_recorded(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=2)
    register(client, "web", asg_target(mode="advise"))
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])

    decision = client.http.post("/targets/web/evaluate").json_body

    assert (decision["action"], decision["final"], decision["outcome"]) == ("out", 4, "recommended")
    assert "ADVISE_MODE" in decision["reasons"]
    assert asg_desired(clients) == 2


def test_given_no_metric_data_when_evaluated_then_it_holds_and_says_so(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    decision = client.http.post("/targets/web/evaluate").json_body
    assert (decision["action"], decision["final"], decision["outcome"]) == ("none", 2, "skipped")
    assert "INSUFFICIENT_DATA" in decision["reasons"]
    assert asg_desired(clients) == 2


def test_given_a_group_beyond_the_targets_max_when_evaluated_then_clamped_into_bounds(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=8)
    register(client, "web", asg_target(max=5))
    decision = client.http.post("/targets/web/evaluate").json_body
    assert (decision["final"], decision["action"]) == (5, "in")
    assert "CLAMPED_TO_MAX" in decision["reasons"]
    assert asg_desired(clients) == 5


def test_given_an_ecs_service_when_evaluated_then_desired_count_follows(client: Any, clients: dict[str, Any]) -> None:
    make_service(clients, desired=2)
    register(client, "chat", {"kind": "ecs", "cluster": "demo", "service": "chat", "min": 3, "max": 6, "mode": "act"})
    decision = client.http.post("/targets/chat/evaluate").json_body
    assert (decision["current"], decision["final"], decision["outcome"]) == (2, 3, "applied")
    service = clients["ecs"].describe_services(cluster="demo", services=["chat"])["services"][0]
    assert service["desiredCount"] == 3


def test_given_a_missing_resource_when_evaluated_then_a_failed_decision_explains_it(client: Any) -> None:
    register(client, "ghost", asg_target(asg_name="does-not-exist"))
    decision = client.http.post("/targets/ghost/evaluate").json_body
    assert decision["outcome"] == "failed"
    assert "does not exist" in decision["error"]


def test_decisions_are_listed_newest_first_and_paginated_with_a_cursor(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    ids = [client.http.post("/targets/web/evaluate").json_body["id"] for _ in range(5)]

    first = client.http.get("/decisions?target=web&limit=2").json_body
    second = client.http.get(f"/decisions?target=web&limit=2&cursor={first['cursor']}").json_body
    third = client.http.get(f"/decisions?target=web&limit=2&cursor={second['cursor']}").json_body

    seen = [d["id"] for d in first["decisions"] + second["decisions"] + third["decisions"]]
    assert seen == sorted(ids, reverse=True)
    assert client.http.get("/decisions?limit=500").json_body["decisions"][0]["id"] == max(ids)


def test_decisions_filter_by_outcome_and_time(client: Any, clients: dict[str, Any], web: None) -> None:
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
    applied = client.http.post("/targets/web/evaluate").json_body
    skipped = client.http.post("/targets/web/evaluate").json_body  # cooldown after the scale-out
    assert skipped["outcome"] == "skipped"

    only_applied = client.http.get("/decisions?outcome=applied").json_body["decisions"]
    assert [d["id"] for d in only_applied] == [applied["id"]]
    since = skipped["created_at"]
    recent = client.http.get(f"/decisions?since={since}").json_body["decisions"]
    assert [d["id"] for d in recent] == [skipped["id"]]
    assert client.http.get("/decisions?until=2000-01-01T00:00:00Z").json_body == {"decisions": [], "cursor": None}


@pytest.mark.parametrize(
    "query",
    [
        "limit=501",
        "limit=0",
        "limit=ten",
        "outcome=maybe",
        "since=yesterday",
        "cursor=%%%",
        "cursor=e30",
        "colour=blue",
        "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
        "since=2026-01-01T00:00:00",
    ],
)
def test_bad_decision_queries_get_a_clear_400(client: Any, query: str) -> None:
    response = client.http.get(f"/decisions?{query}")
    assert response.status_code == 400, response.body
    assert set(response.json_body) >= {"code", "message"}


def test_unknown_or_malformed_decision_ids(client: Any) -> None:
    assert client.http.get("/decisions/01KDVDNA000000000000000000").status_code == 404
    assert client.http.get("/decisions/not-a-ulid").status_code == 400


def test_given_aws_refuses_the_change_when_evaluated_then_failed_with_the_error_and_retried_next_time(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    """moto accepts every SetDesiredCapacity, so the refusal AWS would send is injected here."""
    from botocore.exceptions import ClientError

    from chalicelib import aws, wiring

    def refuse(**_: Any) -> None:
        error = {"Error": {"Code": "ValidationError", "Message": "New SetDesiredCapacity value 4 is above max value 3"}}
        raise ClientError(error, "SetDesiredCapacity")  # type: ignore[arg-type]

    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
    wiring.evaluator()
    aws.autoscaling().meta.events.register("before-call.auto-scaling.SetDesiredCapacity", refuse, unique_id="refuse")

    failed = client.http.post("/targets/web/evaluate").json_body

    assert (failed["outcome"], failed["final"]) == ("failed", 4)
    assert "above max value 3" in failed["error"]
    assert "ACTUATION_FAILED" in failed["reasons"]
    assert asg_desired(clients) == 2

    aws.autoscaling().meta.events.unregister("before-call.auto-scaling.SetDesiredCapacity", unique_id="refuse")
    retried = client.http.post("/targets/web/evaluate").json_body
    assert (retried["outcome"], retried["final"]) == ("applied", 4)  # no cooldown from the failed attempt
    assert asg_desired(clients) == 4


def test_given_a_group_max_below_the_targets_when_scaling_out_then_the_group_bound_is_respected_and_reported(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=2, max_size=3)
    register(client, "web", asg_target(max=10))
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])

    decision = client.http.post("/targets/web/evaluate").json_body

    assert (decision["proposed"], decision["final"], decision["outcome"]) == (4, 3, "applied")
    assert {"CLAMPED_TO_RESOURCE_MAX", "RESOURCE_BOUNDS_DIFFER"} <= set(decision["reasons"])
    assert decision["inputs"]["resource_bounds"] == {"min": 1, "max": 3}
    assert asg_desired(clients) == 3


def test_given_tasks_still_starting_when_overloaded_then_they_count_toward_the_scale_out(
    client: Any, clients: dict[str, Any]
) -> None:
    """moto reports a new service's tasks as not yet running: 0 of 3 serve, the rest are starting."""
    make_service(clients, desired=2)  # the cluster and task definition
    clients["ecs"].create_service(cluster="demo", serviceName="fresh", taskDefinition="chat-task", desiredCount=3)
    cpu = {"type": "predefined", "predefined": "ECSServiceAverageCPUUtilization"}
    policy = {"type": "target_tracking", "name": "cpu", "metric": cpu, "target_value": 50, "scale_out_datapoints": 2}
    register(
        client,
        "fresh",
        {"kind": "ecs", "cluster": "demo", "service": "fresh", "min": 1, "max": 10, "policies": [policy]},
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    clients["cloudwatch"].put_metric_data(
        Namespace="AWS/ECS",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "ClusterName", "Value": "demo"}, {"Name": "ServiceName", "Value": "fresh"}],
                "Timestamp": now - timedelta(minutes=ago),
                "Value": 90.0,
                "Unit": "Percent",
            }
            for ago in (2, 1, 0)
        ],
    )

    held = client.http.post("/targets/fresh/evaluate").json_body

    # sized from what serves (grows as if 1 unit): ceil(1 x 90 / 50) = 2, already covered by the 3 starting
    assert (held["action"], held["final"]) == ("none", 3), held
    assert "SCALE_OUT_IN_PROGRESS" in held["reasons"]
    assert "0 serving need 2, 3 more already starting" in held["explanation"]


def test_a_late_tick_is_stamped_when_it_was_evaluated_and_listed_after_the_decision_it_saw(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    """Regression: a tick stamped 20:42:00 but evaluated after an alarm decision of 20:42:30 came first in the
    log, and already showed the capacity and the cooldown of that later decision."""
    from chalicelib import wiring
    from chalicelib.models.decisions import Trigger, TriggerType

    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
    now = datetime.now(UTC)
    tick_time = now - timedelta(seconds=45)
    alarm = client.http.post("/targets/web/evaluate").json_body  # 2 -> 4, evaluated now
    tick = wiring.evaluator().evaluate(
        wiring.registry().require("web"), Trigger(type=TriggerType.SCHEDULE, event_id="tick-1", at=tick_time)
    )

    [newest, older] = client.http.get("/decisions?target=web&limit=2").json_body["decisions"]
    assert [newest["id"], older["id"]] == [tick.id, alarm["id"]]  # listed in the order they were evaluated
    assert newest["trigger"]["at"] == tick_time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{tick_time.microsecond // 1000:03d}Z"
    assert newest["created_at"] >= older["created_at"] >= alarm["trigger"]["at"]
    assert newest["created_at"] > newest["trigger"]["at"]  # evaluated after its trigger's time, and says so
    assert newest["current"] == 4  # it saw the alarm's change, which the log lists before it
