"""The spike path: CloudWatch alarm → EventBridge event → Lambda → engine → ASG, end to end.

The alarm events are produced by Marea's local event pump from metric data in the embedded AWS,
in the exact EventBridge format, then delivered to the real handler as Lambda would.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib import aws, wiring
from marea_local.demo_resources import put_alarm
from marea_local.event_pump import EventPump
from tests.integration.world import asg_desired, asg_target, make_asg, publish_cpu, register

EVENTS = Path(__file__).resolve().parents[1] / "events"
ALARM = "web-cpu-high"


def step_policy() -> dict[str, Any]:
    return {
        "type": "step",
        "name": "burst",
        "alarm_name": ALARM,
        "adjustment_type": "change_in_capacity",
        "steps": [{"lower_bound": 0, "upper_bound": 20, "adjustment": 1}, {"lower_bound": 20, "adjustment": 4}],
    }


def fire_alarm(clients: dict[str, Any], cpu: float) -> dict[str, Any]:
    """Publish CPU above the alarm's threshold and let the pump produce the ALARM event."""
    end = publish_cpu(clients["cloudwatch"], "web", [cpu] * 4)
    events: list[dict[str, Any]] = []
    EventPump(
        clients["cloudwatch"], events.append, lambda _e: None, clock=lambda: end + timedelta(minutes=1, seconds=30)
    ).step()
    alarm_events = [e for e in events if e["detail"]["state"]["value"] == "ALARM"]
    assert len(alarm_events) == 1, events
    return alarm_events[0]


def decisions(client: Any) -> list[dict[str, Any]]:
    return list(client.http.get("/decisions?target=web").json_body["decisions"])


@pytest.fixture
def web(client: Any, clients: dict[str, Any]) -> None:
    make_asg(clients, desired=2)
    put_alarm(
        clients["cloudwatch"],
        ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        threshold=80,
    )


def set_desired_calls() -> list[int]:
    wiring.evaluator()
    calls: list[int] = []
    aws.autoscaling().meta.events.register(
        "before-parameter-build.auto-scaling.SetDesiredCapacity",
        lambda params, **_: calls.append(params["DesiredCapacity"]),
    )
    return calls


def test_an_alarm_event_for_an_overloaded_asg_raises_its_desired_capacity(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    register(client, "web", asg_target(policies=[*asg_target()["policies"], step_policy()]))
    event = fire_alarm(clients, cpu=95)

    payload = client.lambda_.invoke("on_alarm_state_change", event).payload

    assert [d["outcome"] for d in payload["decisions"]] == ["applied"]
    assert asg_desired(clients) == 4  # target tracking: ceil(2 x 95 / 50) beats the step's 2 + 1
    [decision] = decisions(client)
    assert decision["trigger"] == {
        "type": "alarm",
        "event_id": event["id"],
        "alarm_name": ALARM,
        "alarm_state": "ALARM",
        "at": decision["trigger"]["at"],
    }
    assert decision["policy"] == "cpu"
    assert {r["policy"]: r["vote"] for r in decision["policy_results"]} == {"cpu": "out", "burst": "out"}
    assert decision["inputs"]["alarms"][ALARM]["state"] == "ALARM"


def test_a_step_policy_alone_follows_the_step_that_matches_the_breach(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    register(client, "web", asg_target(policies=[step_policy()]))
    client.lambda_.invoke("on_alarm_state_change", fire_alarm(clients, cpu=90))  # 10 above 80: +1
    assert asg_desired(clients) == 3


def test_advise_mode_changes_nothing_on_aws_but_records_the_same_decision(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    register(client, "web", asg_target(mode="advise", policies=[*asg_target()["policies"], step_policy()]))
    calls = set_desired_calls()
    client.lambda_.invoke("on_alarm_state_change", fire_alarm(clients, cpu=95))
    [decision] = decisions(client)
    assert (decision["action"], decision["final"], decision["outcome"]) == ("out", 4, "recommended")
    assert calls == []
    assert asg_desired(clients) == 2


def test_duplicate_delivery_records_one_decision_and_acts_once(client: Any, clients: dict[str, Any], web: None) -> None:
    register(client, "web", asg_target(policies=[*asg_target()["policies"], step_policy()]))
    calls = set_desired_calls()
    event = fire_alarm(clients, cpu=95)
    first = client.lambda_.invoke("on_alarm_state_change", event).payload
    for _ in range(3):
        again = client.lambda_.invoke("on_alarm_state_change", copy.deepcopy(event)).payload
        assert again["decisions"][0]["id"] == first["decisions"][0]["id"]
    assert calls == [4]
    assert len(decisions(client)) == 1


def test_an_alarm_linked_to_no_target_touches_nothing(client: Any, clients: dict[str, Any], web: None) -> None:
    register(client, "web", asg_target())  # no step policy: not linked to the alarm
    payload = client.lambda_.invoke("on_alarm_state_change", fire_alarm(clients, cpu=95)).payload
    assert payload == {"decisions": []}
    assert asg_desired(clients) == 2


def test_a_target_tracking_policys_trigger_alarm_evaluates_the_target_at_once(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    """Without a step policy, an alarm the target-tracking policy names as its trigger wakes the target as AWS's
    own target-tracking alarm does: it does not wait for the schedule's next tick."""
    [tracking] = asg_target()["policies"]
    register(client, "web", asg_target(policies=[{**tracking, "trigger_alarm": ALARM}]))
    event = fire_alarm(clients, cpu=95)

    payload = client.lambda_.invoke("on_alarm_state_change", event).payload

    assert [d["outcome"] for d in payload["decisions"]] == ["applied"]
    assert asg_desired(clients) == 4  # ceil(2 x 95 / 50): the policy's own reading of the metric
    [decision] = decisions(client)
    assert (decision["trigger"]["alarm_name"], decision["policy"]) == (ALARM, "cpu")
    assert client.http.get("/targets/web").json_body["policies"][0]["trigger_alarm"] == ALARM

    register(client, "web", asg_target())  # the trigger removed: the alarm no longer reaches the target
    assert client.lambda_.invoke("on_alarm_state_change", {**event, "id": str(uuid.uuid4())}).payload == {
        "decisions": []
    }


@pytest.mark.parametrize("sample", sorted((EVENTS / "malformed").glob("*.json")), ids=lambda p: p.stem)
def test_malformed_events_are_rejected_with_their_id_and_touch_nothing(
    client: Any, clients: dict[str, Any], web: None, sample: Path
) -> None:
    register(client, "web", asg_target(policies=[*asg_target()["policies"], step_policy()]))
    fire_alarm(clients, cpu=95)  # metrics that would scale out, had the event been valid
    raw = json.loads(sample.read_text())
    handler = "on_schedule_tick" if "schedule" in sample.stem or "tick" in sample.stem else "on_alarm_state_change"
    payload = client.lambda_.invoke(handler, raw).payload
    if isinstance(payload, list):  # an SQS-body sample fed to the wrong handler still must not act
        payload = payload[0]
    assert payload["rejected"] is True
    assert payload["code"] == "MALFORMED_EVENT"
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        assert raw["id"] in payload["message"]
    assert decisions(client) == []
    assert asg_desired(clients) == 2


def test_a_recovery_event_is_judged_on_the_full_scale_in_window_read_from_cloudwatch(
    client: Any, clients: dict[str, Any], web: None
) -> None:
    register(client, "web", asg_target(policies=[*asg_target()["policies"], step_policy()]))
    alarm = fire_alarm(clients, cpu=95)
    clients["autoscaling"].set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=6)
    end = publish_cpu(clients["cloudwatch"], "web", [20.0] * 16, end=datetime.now(UTC) + timedelta(minutes=20))
    ok = copy.deepcopy(alarm)
    ok["id"] = str(uuid.uuid4())
    ok["time"] = (end + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ok["detail"]["previousState"] = alarm["detail"]["state"]
    ok["detail"]["state"] = {**alarm["detail"]["state"], "value": "OK"}  # its reasonData holds only 4 datapoints

    payload = client.lambda_.invoke("on_alarm_state_change", ok).payload

    [summary] = payload["decisions"]
    decision = client.http.get(f"/decisions/{summary['id']}").json_body
    assert (decision["action"], decision["final"]) == ("in", 3), decision["explanation"]  # ceil(6 x 20 / 50)
    assert asg_desired(clients) == 3
