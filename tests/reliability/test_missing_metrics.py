"""Missing or stale metric data never causes a scale-in; the hold and its reason are recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.audit import read_decisions
from tests.reliability.delivery import Delivery, invoke
from tests.reliability.embedded import fresh_stack
from tests.reliability.scenarios import ALARM, TICK
from tests.reliability.world import Fleet, alarm_event, aws_clients, build_fleet, capacity, publish_load, tick_event

MISSING = {"INSUFFICIENT_DATA", "STALE_DATA"}


@pytest.fixture
def fleet(aws: EmbeddedAws) -> tuple[Fleet, dict[str, Any]]:
    """A group and a service at 5, above their minimum of 1: room to scale in."""
    fresh_stack(aws)
    clients = aws_clients()
    return build_fleet(clients, asgs=1, services=1, desired=5), clients


def decisions_for(event: dict[str, Any]) -> dict[str, Any]:
    from chalicelib import wiring

    return {d.target_id: d for d in read_decisions(wiring.decision_log()._table) if d.trigger.event_id == event["id"]}


def assert_held_for(decisions: dict[str, Any], reason: str, fleet: Fleet, clients: dict[str, Any]) -> None:
    for target_id in fleet.target_ids:
        decision = decisions[target_id]
        reasons = {r.value for r in decision.reasons}
        assert (decision.action, decision.final, decision.outcome) == ("none", 5, "skipped"), decision.explanation
        assert {reason, "HOLD_ON_MISSING_DATA"} <= reasons, reasons
        assert capacity(clients, target_id) == 5


def test_a_tick_with_no_metric_data_holds_every_target(fleet: tuple[Fleet, dict[str, Any]]) -> None:
    targets, clients = fleet
    tick = tick_event(datetime.now(UTC))
    invoke(Delivery("tick", TICK, tick))
    assert_held_for(decisions_for(tick), "INSUFFICIENT_DATA", targets, clients)


def test_a_tick_with_only_stale_low_load_holds_every_target(fleet: tuple[Fleet, dict[str, Any]]) -> None:
    targets, clients = fleet
    now = datetime.now(UTC)
    publish_load(clients, targets, now - timedelta(minutes=10), cpu=5, connections=10)  # would scale in, if fresh
    tick = tick_event(now)
    invoke(Delivery("tick", TICK, tick))
    assert_held_for(decisions_for(tick), "STALE_DATA", targets, clients)
    assert "stale" in decisions_for(tick)["asg-0"].explanation.lower()


def test_fewer_low_datapoints_than_the_scale_in_window_hold(fleet: tuple[Fleet, dict[str, Any]]) -> None:
    _, clients = fleet
    now = datetime.now(UTC)
    clients["cloudwatch"].put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": "web-0"}],
                "Timestamp": now.replace(second=0, microsecond=0),
                "Value": 5.0,
            }
        ],
    )
    tick = tick_event(now)
    invoke(Delivery("tick", TICK, tick))
    decision = decisions_for(tick)["asg-0"]
    assert (decision.action, decision.final) == ("none", 5)
    assert "INSUFFICIENT_DATA" in {r.value for r in decision.reasons}
    assert capacity(clients, "asg-0") == 5


def test_an_alarm_recovery_with_no_metric_data_behind_it_does_not_scale_in(
    fleet: tuple[Fleet, dict[str, Any]],
) -> None:
    _, clients = fleet
    recovery = alarm_event("web-0", datetime.now(UTC), cpu=5)  # OK: judged on CloudWatch's window, which is empty
    invoke(Delivery("recovery", ALARM, recovery))
    decision = decisions_for(recovery)["asg-0"]
    assert (decision.action, decision.final) == ("none", 5), decision.explanation
    assert MISSING & {r.value for r in decision.reasons}
    assert capacity(clients, "asg-0") == 5
