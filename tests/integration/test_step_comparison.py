"""A step alarm exactly at its threshold: the alarm's comparison operator picks the side of the steps.

A less-than-or-equal alarm in ALARM with its metric at the threshold is *below* it, so the step
(-inf, 0] applies. Marea learns the operator from DescribeAlarms (schedule ticks, manual runs) and
from the alarm event's state reason, which CloudWatch words after the operator ("was less than or
equal to the threshold"); the local event pump writes it the same way.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from marea_local.demo_resources import put_alarm
from marea_local.event_pump import EventPump
from tests.integration.world import asg_desired, asg_target, make_asg, publish_cpu, register

ALARM = "web-cpu-low"
THRESHOLD = 30.0


def shrink_policy() -> dict[str, Any]:
    return {
        "type": "step",
        "name": "shrink",
        "alarm_name": ALARM,
        "adjustment_type": "change_in_capacity",
        "steps": [{"upper_bound": 0, "adjustment": -1}],
    }


@pytest.fixture
def idle_web(client: Any, clients: dict[str, Any]) -> dict[str, Any]:
    """An ASG of 4 whose CPU sits exactly at a <= alarm's threshold; returns the pump's ALARM event."""
    make_asg(clients, desired=4)
    put_alarm(
        clients["cloudwatch"],
        ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": "web"},
        threshold=THRESHOLD,
        comparison="LessThanOrEqualToThreshold",
    )
    register(client, "web", asg_target(policies=[shrink_policy()]))
    end = publish_cpu(clients["cloudwatch"], "web", [THRESHOLD] * 4)
    events: list[dict[str, Any]] = []
    pump = EventPump(
        clients["cloudwatch"], events.append, lambda _e: None, clock=lambda: end + timedelta(minutes=1, seconds=30)
    )
    pump.step()
    [alarm_event] = [e for e in events if e["detail"]["state"]["value"] == "ALARM"]
    return alarm_event


def test_an_alarm_event_at_the_threshold_of_a_less_or_equal_alarm_applies_the_scale_in_step(
    client: Any, clients: dict[str, Any], idle_web: dict[str, Any]
) -> None:
    assert "less than or equal to the threshold" in idle_web["detail"]["state"]["reason"]

    payload = client.lambda_.invoke("on_alarm_state_change", idle_web).payload

    [summary] = payload["decisions"]
    decision = client.http.get(f"/decisions/{summary['id']}").json_body
    assert (decision["action"], decision["final"]) == ("in", 3), decision["explanation"]
    assert decision["inputs"]["alarms"][ALARM]["comparison"] == "LessThanOrEqualToThreshold"
    assert asg_desired(clients) == 3


def test_a_manual_run_reads_the_operator_from_describe_alarms_and_applies_the_scale_in_step(
    client: Any, clients: dict[str, Any], idle_web: dict[str, Any]
) -> None:
    response = client.http.post("/targets/web/evaluate")

    decision = response.json_body
    assert (decision["action"], decision["final"]) == ("in", 3), decision["explanation"]
    assert "(<= threshold 30.0) matching step -1" in decision["explanation"]
    assert asg_desired(clients) == 3
