"""POST /backtest against the embedded AWS: a registered target, its request count in CloudWatch
(moto on 127.0.0.1, reached by boto3 over HTTP), replayed through the same ``run_backtest``."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.backtest import Result, World, run_backtest, trace_from_rates
from chalicelib.models.targets import TargetBase
from chalicelib.store.items import TARGET_ADAPTER
from marea_backtest.trace import load_trace
from marea_local.data_stack import DataStack
from marea_local.demo_resources import put_alarm
from marea_local.example_targets import example_target
from tests.infra.aws_calls import recording
from tests.integration.world import HEADERS, asg_target, minute_floor, register

NASA = Path(__file__).resolve().parents[2] / "bench" / "data" / "nasa_jul95.csv"
REQUESTS = {"namespace": "App/Web", "metric_name": "RequestCount", "dimensions": {"Service": "web"}, "statistic": "Sum"}
UNIT_CAPACITY = 6.8  # NASA's mean demand / 7, as bench/backtest.py sizes it
MINUTE = timedelta(minutes=1)


def nasa_minutes(first: int, count: int) -> list[float]:
    """A slice of the NASA July 1995 trace: one request count a minute."""
    return list(load_trace(NASA).demand[first : first + count])


def publish(cloudwatch: Any, values: list[float | None], last: datetime, metric: dict[str, Any] = REQUESTS) -> None:
    """One datapoint a minute, the last at minute ``last``; None publishes nothing for that minute."""
    first = last - (len(values) - 1) * MINUTE
    data = [
        {
            "MetricName": metric["metric_name"],
            "Dimensions": [{"Name": k, "Value": v} for k, v in metric["dimensions"].items()],
            "Timestamp": first + i * MINUTE,
            "Value": value,
            "Unit": "Count",
        }
        for i, value in enumerate(values)
        if value is not None
    ]
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=metric["namespace"], MetricData=data[start : start + 500])


def predictive_target(**overrides: Any) -> dict[str, Any]:
    """An ASG target whose predictive policy reads the request count: the backtest's default demand."""
    policy = {
        "type": "predictive",
        "name": "requests",
        "metric": {"type": "custom", **REQUESTS},
        "unit_capacity": UNIT_CAPACITY,
        "lead_s": 240,
    }
    return asg_target(min=1, max=200, policies=[policy], scale_in_stabilization_s=600, **overrides)


def post(client: Any, body: dict[str, Any] | str) -> Any:
    return client.http.post("/backtest", headers=HEADERS, body=body if isinstance(body, str) else json.dumps(body))


def expected_replay(
    body: dict[str, Any],
    target_id: str,
    policy: Any,
    response: dict[str, Any],
    values: dict[datetime, float],
    alarms: dict[str, AlarmDefinition] | None = None,
) -> Result:
    """What run_backtest gives on the minutes the response says it replayed (0 where none was published)."""
    first = datetime.fromisoformat(response["first_minute"])
    demand = [values.get(first + i * MINUTE, 0.0) for i in range(response["minutes"])]
    world = World(
        kind="ec2",
        unit_capacity=UNIT_CAPACITY,
        min_units=body["min"],
        max_units=body["max"],
        start=first,
    )
    if isinstance(policy, TargetBase):
        policy = policy.model_copy(update={"paused": False})
    return run_backtest(trace_from_rates(target_id, demand), policy, world, alarms=alarms)


def summary_of(result: Result) -> dict[str, Any]:
    summary = result.summary
    fields = dataclasses.asdict(summary)
    assert fields.pop("step_s") == 60  # the API replays the history a minute a step
    minutes, under = fields.pop("steps"), fields.pop("under_provisioned_steps")
    return {
        **fields,
        "minutes": minutes,
        "under_provisioned_minutes": under,
        "under_provisioned_pct": summary.under_provisioned_pct,
        "cost_vs_ideal": summary.cost_vs_ideal,
    }


def timeline(values: list[float | None], last: datetime) -> dict[datetime, float]:
    first = last - (len(values) - 1) * MINUTE
    return {first + i * MINUTE: v for i, v in enumerate(values) if v is not None}


def stored(body: dict[str, Any], target_id: str) -> TargetBase:
    target: TargetBase = TARGET_ADAPTER.validate_python({**body, "id": target_id})
    return target


def test_given_a_target_with_a_request_count_when_backtesting_then_both_summaries_are_the_engines_replays(
    client: Any, clients: dict[str, Any]
) -> None:
    body = predictive_target()
    register(client, "web", body)
    last = minute_floor(datetime.now(UTC)) - 2 * MINUTE
    values: list[float | None] = list(nasa_minutes(2 * 1440, 1440 + 720))
    values[100:105] = [None] * 5  # five minutes without requests: ALB publishes nothing for them
    publish(clients["cloudwatch"], values, last)

    response = post(client, {"target": "web", "days": 2, "unit_capacity": UNIT_CAPACITY, "proposed": "marea"})

    assert response.status_code == 200, response.json_body
    result = response.json_body
    assert result["trajectory"] is None
    assert (result["minutes"], result["missing_minutes"]) == (len(values), 5)
    assert datetime.fromisoformat(result["last_minute"]) == last
    assert result["metric"] == {"type": "custom", "period_s": 60, **REQUESTS}
    assert result["world"] == {
        "kind": "ec2",
        "provisioning_delay_min": 4,
        "unit_capacity": UNIT_CAPACITY,
        "target_utilization": 70.0,
        "min_units": 1,
        "max_units": 200,
        "timezone": "UTC",
    }
    points = timeline(values, last)
    current = expected_replay(body, "web", stored(body, "web"), result, points)
    proposed = expected_replay(body, "web", "marea", result, points)
    assert result["current"]["label"] == "requests"
    assert result["current"]["summary"] == summary_of(current)
    assert result["proposed"]["label"] == "marea"
    assert result["proposed"]["summary"] == summary_of(proposed)
    under = result["comparison"]["under_provisioned_minutes"]
    assert (under["current"], under["proposed"]) == (
        current.summary.under_provisioned_minutes,
        proposed.summary.under_provisioned_minutes,
    )
    assert result["comparison"]["unit_hours"]["change"] == pytest.approx(
        proposed.summary.unit_hours - current.summary.unit_hours
    )


def test_given_trajectory_when_backtesting_then_every_minute_of_both_runs_comes_back(
    client: Any, clients: dict[str, Any]
) -> None:
    body = predictive_target()
    register(client, "web", body)
    last = minute_floor(datetime.now(UTC)) - 2 * MINUTE
    values: list[float | None] = list(nasa_minutes(5 * 1440, 600))
    publish(clients["cloudwatch"], values, last)
    proposed = [
        {
            "type": "target_tracking",
            "name": "cpu",
            "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
            "target_value": 60,
        }
    ]

    response = post(
        client,
        {"target": "web", "days": 1, "unit_capacity": UNIT_CAPACITY, "proposed": proposed, "trajectory": True},
    )

    assert response.status_code == 200, response.json_body
    result = response.json_body
    trajectory = result["trajectory"]
    assert trajectory["demand"] == values
    points = timeline(values, last)
    current = expected_replay(body, "web", stored(body, "web"), result, points)
    tracking = stored({**body, "policies": proposed}, "web")
    expected = expected_replay(body, "web", tracking, result, points)
    assert trajectory["current"] == {"desired": list(current.desired), "ready": list(current.ready)}
    assert trajectory["proposed"] == {"desired": list(expected.desired), "ready": list(expected.ready)}
    assert result["proposed"]["label"] == "cpu"
    assert result["proposed"]["summary"] == summary_of(expected)


def test_given_a_10_s_policy_when_backtesting_the_minute_history_then_422_names_it_and_nothing_is_replayed(
    client: Any, clients: dict[str, Any]
) -> None:
    """CloudWatch keeps 10 s datapoints 3 hours, so the history is read a minute a datapoint; a 10 s policy
    replayed on it used to take each minute for one of its datapoints (stale to it: it never acted)."""
    register(client, "web", predictive_target())
    publish(clients["cloudwatch"], nasa_minutes(0, 120), minute_floor(datetime.now(UTC)) - 2 * MINUTE)
    fast = {
        "type": "target_tracking",
        "name": "fast-cpu",
        "metric": {"type": "custom", "namespace": "App/Web", "metric_name": "CPUUtilization", "period_s": 10},
        "target_value": 60,
    }

    response = post(client, {"target": "web", "days": 1, "unit_capacity": UNIT_CAPACITY, "proposed": [fast]})

    assert response.status_code == 422, response.json_body
    message = response.json_body["message"]
    assert "policy 'fast-cpu' reads datapoints of 10 s; a replay in steps of 60 s" in message
    assert "marea backtest --step" in message


def test_given_older_traffic_when_backtesting_n_days_then_only_the_last_n_days_are_replayed(
    client: Any, clients: dict[str, Any]
) -> None:
    register(client, "web", predictive_target())
    now = datetime.now(UTC)
    last = minute_floor(now) - 2 * MINUTE
    values: list[float | None] = [5000.0] * 600 + [None] * (1440 - 600) + [50.0] * 720  # a surge 1.5 days ago
    publish(clients["cloudwatch"], values, last)

    response = post(client, {"target": "web", "days": 1, "unit_capacity": UNIT_CAPACITY, "trajectory": True})

    assert response.status_code == 200, response.json_body
    result = response.json_body
    first = datetime.fromisoformat(result["first_minute"])
    assert first >= minute_floor(now) - timedelta(days=1)
    assert result["minutes"] == 720
    assert set(result["trajectory"]["demand"]) == {50.0}
    assert result["current"]["summary"]["minutes"] == 720


def test_given_an_alb_request_count_per_target_policy_then_the_target_groups_request_count_is_the_demand(
    client: Any, clients: dict[str, Any]
) -> None:
    label = "app/web-lb/50dc6c495c0c9188/targetgroup/web-tg/73e2d6bc24d8a067"
    policy = {
        "type": "target_tracking",
        "name": "rpt",
        "metric": {"type": "predefined", "predefined": "ALBRequestCountPerTarget", "resource_label": label},
        "target_value": 5,
    }
    body = asg_target(min=1, max=100, policies=[policy])
    register(client, "web", body)
    request_count = {
        "namespace": "AWS/ApplicationELB",
        "metric_name": "RequestCount",
        "dimensions": {
            "LoadBalancer": "app/web-lb/50dc6c495c0c9188",
            "TargetGroup": "targetgroup/web-tg/73e2d6bc24d8a067",
        },
        "statistic": "Sum",
    }
    last = minute_floor(datetime.now(UTC)) - 2 * MINUTE
    values: list[float | None] = list(nasa_minutes(3 * 1440, 720))
    publish(clients["cloudwatch"], values, last, request_count)

    response = post(client, {"target": "web", "days": 1, "unit_capacity": UNIT_CAPACITY, "proposed": "hpa"})

    assert response.status_code == 200, response.json_body
    result = response.json_body
    assert result["metric"] == {"type": "custom", "period_s": 60, **request_count}
    current = expected_replay(body, "web", stored(body, "web"), result, timeline(values, last))
    assert result["current"]["summary"] == summary_of(current)
    assert result["current"]["summary"]["scaling_actions"] > 0  # it read requests per unit, and followed them


SERVING = {
    "namespace": "AWS/AutoScaling",
    "metric_name": "GroupInServiceInstances",
    "dimensions": {"AutoScalingGroupName": "web"},
}
CPU = {"namespace": "AWS/EC2", "metric_name": "CPUUtilization", "dimensions": {"AutoScalingGroupName": "web"}}


def cpu_world(demand: list[float], unit_capacity: float) -> tuple[list[float | None], list[float | None]]:
    """CPU and units in service of a fleet that serves ``demand`` unsaturated: 2-7 units, never above 100 %."""
    units = [float(max(2, math.ceil(d / (0.8 * unit_capacity)))) for d in demand]
    return [100 * d / (n * unit_capacity) for d, n in zip(demand, units, strict=True)], list(units)


def test_given_a_cpu_target_then_its_demand_is_cpu_times_units_in_service_and_without_them_422(
    client: Any, clients: dict[str, Any]
) -> None:
    register(client, "web", asg_target(max=20))
    last = minute_floor(datetime.now(UTC)) - 2 * MINUTE
    demand = nasa_minutes(0, 300)
    cpu, units = cpu_world(demand, UNIT_CAPACITY)
    publish(clients["cloudwatch"], cpu, last, CPU)

    without_units = post(client, {"target": "web", "unit_capacity": UNIT_CAPACITY})
    publish(clients["cloudwatch"], units, last, SERVING)
    derived = post(client, {"target": "web", "unit_capacity": UNIT_CAPACITY, "trajectory": True})
    named = post(client, {"target": "web", "unit_capacity": UNIT_CAPACITY, "demand_metric": REQUESTS})

    assert without_units.status_code == 422, without_units.json_body
    assert "AWS/AutoScaling GroupInServiceInstances" in without_units.json_body["message"]
    assert "EnableMetricsCollection" in without_units.json_body["message"]
    assert derived.status_code == 200, derived.json_body
    result = derived.json_body
    assert result["demand_formula"] == f"CPUUtilization (Average) x GroupInServiceInstances x {UNIT_CAPACITY:g} / 100"
    assert result["serving_metric"]["metric_name"] == "GroupInServiceInstances"
    assert (result["minutes"], result["missing_minutes"]) == (300, 0)
    # The round trip through CloudWatch gives back the requests the fleet served.
    assert result["trajectory"]["demand"] == pytest.approx(demand)
    assert result["current"]["label"] == "cpu"
    # demand_metric still overrides: nothing is published under it, so there is no data.
    assert named.status_code == 422
    assert named.json_body["code"] == "NO_DATA"


def test_given_an_unknown_target_when_backtesting_then_404(client: Any) -> None:
    response = post(client, {"target": "nobody", "unit_capacity": 10})

    assert response.status_code == 404
    assert response.json_body["code"] == "NOT_FOUND"


def test_given_no_datapoints_in_the_window_when_backtesting_then_422_no_data(
    client: Any, clients: dict[str, Any]
) -> None:
    register(client, "web", predictive_target())
    # Three days old: outside the 2 days asked for.
    publish(clients["cloudwatch"], [100.0] * 60, minute_floor(datetime.now(UTC)) - timedelta(days=3))

    response = post(client, {"target": "web", "days": 2, "unit_capacity": 10})

    assert response.status_code == 422
    assert response.json_body["code"] == "NO_DATA"
    assert "RequestCount" in response.json_body["message"]


def test_given_a_step_policy_when_backtesting_then_its_alarm_is_evaluated_in_the_replay(
    client: Any, clients: dict[str, Any]
) -> None:
    step = {
        "type": "step",
        "name": "burst",
        "alarm_name": "web-cpu-high",
        "adjustment_type": "change_in_capacity",
        "steps": [{"lower_bound": 0, "adjustment": 3}],
        "cooldown_s": 120,
    }
    body = asg_target(max=40, policies=[step])
    register(client, "web", body)
    last = minute_floor(datetime.now(UTC)) - 2 * MINUTE
    values = [20.0] * 60 + [120.0] * 60  # 4 units at 74 %, then at 441 %: the alarm fires
    publish(clients["cloudwatch"], values, last, {**REQUESTS, "namespace": "App/Web"})
    refused = post(client, {"target": "web", "unit_capacity": UNIT_CAPACITY, "demand_metric": REQUESTS})
    put_alarm(clients["cloudwatch"], "web-cpu-high", threshold=75, **CPU)

    with recording() as recorder:
        response = post(client, {"target": "web", "unit_capacity": UNIT_CAPACITY, "demand_metric": REQUESTS})

    assert refused.status_code == 422
    assert "alarms that do not exist: web-cpu-high" in refused.json_body["message"]
    assert response.status_code == 200, response.json_body
    assert [c.operation for c in recorder.calls] == [
        "dynamodb.GetItem",
        "cloudwatch.DescribeAlarms",
        "cloudwatch.GetMetricData",
    ]
    alarm = clients["cloudwatch"].describe_alarms(AlarmNames=["web-cpu-high"])["MetricAlarms"][0]
    replay = expected_replay(
        body,
        "web",
        stored(body, "web"),
        response.json_body,
        timeline(values, last),
        alarms={"web-cpu-high": AlarmDefinition.from_metric_alarm(alarm)},
    )
    # The replay is the engine's with the alarm as CloudWatch holds it, and the alarm fired in it.
    current = response.json_body["current"]["summary"]
    assert current == summary_of(replay)
    assert current["scale_outs"] > 0
    assert current["under_provisioned_minutes"] < 60


def test_a_backtest_reads_the_registry_and_cloudwatch_once_each_and_writes_nothing(
    client: Any, clients: dict[str, Any], data_stack: DataStack
) -> None:
    register(client, "web", predictive_target())
    publish(clients["cloudwatch"], list(nasa_minutes(0, 240)), minute_floor(datetime.now(UTC)) - 2 * MINUTE)

    with recording() as recorder:
        response = post(client, {"target": "web", "days": 14, "unit_capacity": UNIT_CAPACITY})

    assert response.status_code == 200, response.json_body
    assert [call.operation for call in recorder.calls] == ["dynamodb.GetItem", "cloudwatch.GetMetricData"]
    decisions = clients["dynamodb"].scan(TableName=data_stack.decisions_table, Select="COUNT")["Count"]
    assert decisions == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 15}, "days"),
        ({"days": "7"}, "days"),
        ({"unit_capacity": 0}, "unit_capacity"),
        ({"unit_capacity": -5}, "unit_capacity"),
        ({"target_utilization": 120}, "target_utilization"),
        ({"trajectory": "yes"}, "trajectory"),
        ({"colour": "blue"}, "colour"),
        ({"proposed": "magic"}, "proposed"),
        ({"proposed": []}, "proposed"),
        ({"proposed": [{"type": "target_tracking", "name": "cpu"}]}, "proposed"),
        ({"scale_in_stabilization_s": 60}, "body"),
        ({"demand_metric": {"namespace": "App/Web"}}, "demand_metric.metric_name"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"target": "no spaces allowed"}, "target"),
    ],
)
def test_given_a_bad_body_when_backtesting_then_400_names_the_field(
    client: Any, body: dict[str, Any], field: str
) -> None:
    register(client, "web", predictive_target())

    response = post(client, {"target": "web", "unit_capacity": 10, **body})

    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] == "VALIDATION_FAILED"
    assert any(error["field"].startswith(field) for error in response.json_body["errors"]), response.json_body


@pytest.mark.parametrize(
    ("raw", "message"),
    [("{", "not valid JSON"), ("[1, 2]", "must be a JSON object"), ("", "must be a JSON object")],
)
def test_given_a_body_that_is_not_a_json_object_when_backtesting_then_400(client: Any, raw: str, message: str) -> None:
    response = post(client, raw)

    assert response.status_code == 400
    assert message in response.json_body["message"]


def test_given_a_proposed_policy_on_a_metric_the_target_cannot_have_then_400(client: Any) -> None:
    register(client, "web", predictive_target())
    proposed = [
        {
            "type": "target_tracking",
            "name": "cpu",
            "metric": {"type": "predefined", "predefined": "ECSServiceAverageCPUUtilization"},
            "target_value": 60,
        }
    ]

    response = post(client, {"target": "web", "unit_capacity": 10, "proposed": proposed})

    assert response.status_code == 400
    assert response.json_body["message"].startswith("proposed.0.metric: ECSServiceAverageCPUUtilization needs an ecs")


def test_the_backtests_the_demo_prints_answer_on_the_demos_own_targets(client: Any, clients: dict[str, Any]) -> None:
    """The demo's web tier tracks CPU and the chat connections per task, both with a step policy: before
    they were refused (400 at demand_metric, 422 for the step policies). Registered and published as the
    demo does (its publishers, its alarms), the exact bodies it prints are answered."""
    from chalicelib.derived_demand import serving_units_metric
    from marea_local import demo
    from marea_local.demo.workload import connections_publisher, cpu_publisher, serving_units_publisher

    cloudwatch = clients["cloudwatch"]
    targets = {
        body["id"]: TARGET_ADAPTER.validate_python(body) for body in (example_target("web"), example_target("chat"))
    }
    for target_id, target in targets.items():
        register(client, target_id, target.model_dump(mode="json", exclude={"id"}))
    demo.put_demo_alarms(cloudwatch)
    publishers = {
        "web": (cpu_publisher(cloudwatch, demo.WEB_ASG, demo.WEB_UNIT_CAPACITY), demo.WEB_UNIT_CAPACITY, 5),
        "chat": (connections_publisher(cloudwatch, demo.CHAT_CLUSTER, demo.CHAT_SERVICE), demo.CHAT_UNIT_CAPACITY, 8),
    }
    serving = {name: serving_units_publisher(cloudwatch, serving_units_metric(t)) for name, t in targets.items()}
    first = minute_floor(datetime.now(UTC)) - 92 * MINUTE
    for index, requests in enumerate(nasa_minutes(12 * 1440 + 8 * 60, 90)):
        minute = first + index * MINUTE
        for name, (publish_metric, capacity, scale) in publishers.items():
            units = max(2, math.ceil(requests * scale / (0.8 * capacity)))
            publish_metric(minute, requests * scale, units)
            serving[name](minute, units)

    responses = {body["target"]: post(client, body) for body in demo.backtest_requests()}

    for target_id, response in responses.items():
        assert response.status_code == 200, (target_id, response.json_body)
        assert response.json_body["minutes"] == 90
        assert response.json_body["current"]["label"] == "+".join(p.name for p in targets[target_id].policies)
    assert responses["web"].json_body["demand_formula"].startswith("CPUUtilization (Average) x GroupInService")
    assert responses["chat"].json_body["demand_formula"] == "ConnectedClients (Average) x RunningTaskCount"


def test_given_a_target_in_another_account_then_its_own_account_s_metrics_are_replayed(
    client: Any, clients: dict[str, Any]
) -> None:
    from tests.integration.test_member_accounts import MEMBER_REGION, ROLE, member_clients

    last = minute_floor(datetime.now(UTC)) - 2 * MINUTE
    values: list[float | None] = list(nasa_minutes(2 * 1440, 720))
    publish(member_clients(ROLE, MEMBER_REGION)["cloudwatch"], values, last)  # only the member account has them
    register(client, "web", predictive_target(role_arn=ROLE, region=MEMBER_REGION))

    response = post(client, {"target": "web", "days": 1, "unit_capacity": UNIT_CAPACITY})

    assert response.status_code == 200, response.json_body
    assert (response.json_body["minutes"], response.json_body["missing_minutes"]) == (len(values), 0)
