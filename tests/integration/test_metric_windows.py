"""What a target-tracking policy reads, and from where (issue #12, items 3 and 4).

Each policy is read as far back as its longest window needs (docs/aws-semantics.md, "Alarm windows
and how far back Marea reads"); an ALARM event's datapoints replace that read only when they decide
every window the policy evaluates ("The datapoints an alarm event carries"). boto3 talks HTTP to
the embedded AWS (moto on 127.0.0.1); AWS calls are counted with botocore ``before-call`` hooks.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import aws, wiring
from marea_local.demo_resources import put_alarm
from marea_local.event_pump import EventPump
from tests.integration.world import HEADERS, asg_target, make_asg, minute_floor, publish_cpu, register

LOW_ALARM = "web-cpu-low"
HIGH_ALARM = "web-cpu-high"


def cpu_policy(**overrides: Any) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "type": "target_tracking",
        "name": "cpu",
        "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
        "target_value": 50,
        "scale_out_datapoints": 2,
    }
    policy.update(overrides)
    return policy


def custom_cpu(period_s: int) -> dict[str, Any]:
    return {
        "type": "custom",
        "namespace": "AWS/EC2",
        "metric_name": "CPUUtilization",
        "dimensions": {"AutoScalingGroupName": "web"},
        "period_s": period_s,
    }


def step_on(alarm: str) -> dict[str, Any]:
    """A step policy links the target to ``alarm``; one open-ended step of -1 whatever the breach."""
    return {
        "type": "step",
        "name": "step",
        "alarm_name": alarm,
        "adjustment_type": "change_in_capacity",
        "steps": [{"adjustment": -1 if alarm == LOW_ALARM else 1}],
        "cooldown_s": 0,
    }


def cloudwatch_calls() -> Counter[str]:
    """Calls Marea's own CloudWatch client makes from now on."""
    calls: Counter[str] = Counter()
    aws.cloudwatch().meta.events.register("before-call.cloudwatch.*", lambda model, **_: calls.update([model.name]))
    return calls


def alarm_event(clients: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The ALARM event the event pump produces from the metric data, at ``at``."""
    events: list[dict[str, Any]] = []
    EventPump(clients["cloudwatch"], events.append, lambda _e: None, clock=lambda: at).step()
    alarms = [e for e in events if e["detail"]["state"]["value"] == "ALARM"]
    assert len(alarms) == 1, events
    return alarms[0]


def vote_of(decision: dict[str, Any], policy: str) -> dict[str, Any]:
    return next(r for r in decision["policy_results"] if r["policy"] == policy)


# ---- item 3: the read reaches as far back as the windows -----------------------------------------


@pytest.mark.parametrize(
    ("policy", "minutes"),
    [
        pytest.param(cpu_policy(scale_in_datapoints=25), 40, id="25-one-minute-datapoints"),
        pytest.param(cpu_policy(metric=custom_cpu(300), scale_in_datapoints=15), 100, id="15-five-minute-datapoints"),
    ],
)
def test_given_a_scale_in_window_longer_than_20_minutes_when_idle_then_the_whole_window_is_read_and_it_scales_in(
    client: Any, clients: dict[str, Any], policy: dict[str, Any], minutes: int
) -> None:
    make_asg(clients, desired=8)
    register(client, "web", asg_target(policies=[policy], scale_in_stabilization_s=0))
    publish_cpu(clients["cloudwatch"], "web", [20.0] * minutes)

    decision = client.http.post("/targets/web/evaluate").json_body

    assert (decision["action"], decision["final"]) == ("in", 4), decision["explanation"]  # ceil(8 x 20 / 50)
    assert "INSUFFICIENT_DATA" not in decision["reasons"]


def test_given_a_long_window_when_evaluated_then_one_get_metric_data_call_reads_it(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=8)
    register(client, "web", asg_target(policies=[cpu_policy(scale_in_datapoints=60)]))
    publish_cpu(clients["cloudwatch"], "web", [20.0] * 70)
    wiring.evaluator()
    calls = cloudwatch_calls()

    decision = client.http.post("/targets/web/evaluate").json_body

    assert len(decision["inputs"]["metrics"]["cpu"]) >= 60
    assert calls == Counter({"GetMetricData": 1})


def put(client: Any, body: dict[str, Any]) -> Any:
    return client.http.put("/targets/web", headers=HEADERS, body=json.dumps(body))


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(cpu_policy(scale_in_datapoints=180), id="3-hours-of-one-minute-datapoints"),
        pytest.param(cpu_policy(metric=custom_cpu(3600), scale_in_datapoints=48), id="2-days-of-hourly-datapoints"),
        pytest.param(cpu_policy(metric=custom_cpu(10), scale_in_datapoints=1000), id="10-s-data-within-3-hours"),
    ],
)
def test_given_a_long_window_that_cloudwatch_keeps_when_put_then_it_is_accepted(
    client: Any, policy: dict[str, Any]
) -> None:
    response = put(client, asg_target(policies=[policy]))
    assert response.status_code == 201, response.json_body


@pytest.mark.parametrize(
    ("policy", "field", "kept"),
    [
        pytest.param(
            cpu_policy(metric=custom_cpu(30), scale_in_datapoints=400), "scale_in_datapoints", "3 h", id="30-s-data"
        ),
        pytest.param(
            cpu_policy(metric=custom_cpu(10), scale_out_datapoints=1200), "scale_out_datapoints", "3 h", id="scale-out"
        ),
        pytest.param(
            cpu_policy(metric=custom_cpu(960), scale_in_datapoints=1440), "scale_in_datapoints", "15 d", id="16-min"
        ),
    ],
)
def test_given_a_window_cloudwatch_does_not_keep_when_put_then_400_names_the_field_and_nothing_is_written(
    client: Any, policy: dict[str, Any], field: str, kept: str
) -> None:
    response = put(client, asg_target(policies=[policy]))

    assert response.status_code == 400, response.json_body
    [error] = response.json_body["errors"]
    assert error["field"] == f"asg.policies.0.target_tracking.{field}"
    assert f"keeps datapoints of {policy['metric']['period_s']} s for {kept}" in error["message"], error
    assert client.http.get("/targets/web").status_code == 404


# ---- item 4: an alarm event and a manual run decide alike on the same data -----------------------


def test_given_a_low_cpu_alarm_whose_event_carries_2_datapoints_then_it_decides_as_a_manual_run_does(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=8)
    register(client, "web", asg_target(mode="advise", policies=[cpu_policy(), step_on(LOW_ALARM)]))
    put_alarm(
        clients["cloudwatch"],
        LOW_ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        threshold=30,
        comparison="LessThanThreshold",
    )
    end = publish_cpu(clients["cloudwatch"], "web", [20.0] * 20)
    event = alarm_event(clients, end + timedelta(minutes=1, seconds=30))
    assert len(json.loads(event["detail"]["state"]["reasonData"])["evaluatedDatapoints"]) == 2
    wiring.evaluator()
    calls = cloudwatch_calls()

    [summary] = client.lambda_.invoke("on_alarm_state_change", event).payload["decisions"]
    by_alarm = client.http.get(f"/decisions/{summary['id']}").json_body

    # Two datapoints below target cannot show a 15-datapoint scale-in window: CloudWatch is read.
    assert calls == Counter({"GetMetricData": 1})
    assert (vote_of(by_alarm, "cpu")["vote"], vote_of(by_alarm, "cpu")["proposed"]) == ("in", 4)
    assert "only" not in by_alarm["explanation"]
    assert "INSUFFICIENT_DATA" not in by_alarm["reasons"]
    manual = client.http.post("/targets/web/evaluate").json_body
    assert (by_alarm["action"], by_alarm["final"]) == (manual["action"], manual["final"]) == ("in", 7)
    assert vote_of(by_alarm, "cpu") == vote_of(manual, "cpu")


def test_given_a_spike_alarm_whose_datapoints_decide_the_scale_out_then_no_metric_read_is_made(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=2)
    register(client, "web", asg_target(mode="advise", policies=[cpu_policy(), step_on(HIGH_ALARM)]))
    put_alarm(
        clients["cloudwatch"],
        HIGH_ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        threshold=80,
    )
    end = publish_cpu(clients["cloudwatch"], "web", [20.0] * 16 + [95.0] * 4)
    event = alarm_event(clients, end + timedelta(minutes=1, seconds=30))
    wiring.evaluator()
    calls = cloudwatch_calls()

    [summary] = client.lambda_.invoke("on_alarm_state_change", event).payload["decisions"]
    by_alarm = client.http.get(f"/decisions/{summary['id']}").json_body

    assert calls == Counter()  # the event described the alarm and decided the policy's windows
    assert (vote_of(by_alarm, "cpu")["vote"], vote_of(by_alarm, "cpu")["proposed"]) == ("out", 4)
    manual = client.http.post("/targets/web/evaluate").json_body
    assert vote_of(by_alarm, "cpu") == vote_of(manual, "cpu")


def test_given_an_alarm_datapoint_at_target_then_the_event_rules_out_scale_in_without_a_read(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=8)
    register(client, "web", asg_target(mode="advise", policies=[cpu_policy(), step_on(LOW_ALARM)]))
    put_alarm(
        clients["cloudwatch"],
        LOW_ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        threshold=48,
        comparison="LessThanThreshold",
    )
    # 46 and 47 are below the alarm's 48 but not below the policy's scale-in threshold (0.9 x 50 = 45).
    end = publish_cpu(clients["cloudwatch"], "web", [46.0, 47.0])
    event = alarm_event(clients, end + timedelta(minutes=1, seconds=30))
    wiring.evaluator()
    calls = cloudwatch_calls()

    [summary] = client.lambda_.invoke("on_alarm_state_change", event).payload["decisions"]
    by_alarm = client.http.get(f"/decisions/{summary['id']}").json_body

    assert calls == Counter()
    cpu = vote_of(by_alarm, "cpu")
    assert (cpu["vote"], cpu["reasons"]) == ("hold", ["WITHIN_TOLERANCE"]), cpu
    assert by_alarm["final"] == 8


def test_given_an_event_older_than_the_stale_limit_then_cloudwatch_is_read(
    client: Any, clients: dict[str, Any]
) -> None:
    make_asg(clients, desired=2)
    register(client, "web", asg_target(mode="advise", policies=[cpu_policy(), step_on(HIGH_ALARM)]))
    put_alarm(
        clients["cloudwatch"],
        HIGH_ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        threshold=80,
    )
    # Evaluated now (decisions are made at the wall clock), ten minutes after the event's datapoints.
    end = publish_cpu(
        clients["cloudwatch"], "web", [95.0] * 4, end=minute_floor(datetime.now(UTC)) - timedelta(minutes=10)
    )
    event = alarm_event(clients, end + timedelta(minutes=1, seconds=30))  # delivered late
    wiring.evaluator()
    calls = cloudwatch_calls()

    [summary] = client.lambda_.invoke("on_alarm_state_change", event).payload["decisions"]
    by_alarm = client.http.get(f"/decisions/{summary['id']}").json_body

    assert calls == Counter({"GetMetricData": 1})
    assert vote_of(by_alarm, "cpu")["reasons"] == ["STALE_DATA"]
