"""A decision's times: when its trigger happened, when it was evaluated, and the log's order."""

from __future__ import annotations

import json
from datetime import timedelta

from chalicelib.ids import id_time
from tests.unit.evaluator_world import MemoryGroup, World, asg_body


def test_created_at_is_when_the_evaluation_read_its_inputs_and_trigger_at_when_the_trigger_happened() -> None:
    world = World(MemoryGroup(current=2))
    world.register(asg_body())
    tick_time = world.clock()
    world.clock.advance(45.1234)  # the tick's evaluation runs 45 s after its schedule time

    decision = world.evaluate("web", event_id="tick", at=tick_time)

    assert decision.trigger.at == tick_time
    assert decision.created_at == world.clock().replace(microsecond=123000)  # the log's precision: ms
    assert id_time(decision.id) == decision.created_at


def test_both_times_are_written_at_one_precision() -> None:
    world = World(MemoryGroup(current=2))
    world.register(asg_body())
    world.clock.advance(0.5)
    decision = json.loads(
        world.evaluate("web", event_id="tick", at=world.clock() - timedelta(seconds=0.5)).model_dump_json()
    )
    assert decision["trigger"]["at"] == "2026-11-30T12:00:00.000Z"
    assert decision["created_at"] == "2026-11-30T12:00:00.500Z"


def test_the_log_lists_decisions_in_the_order_they_were_evaluated_and_each_sees_the_one_before() -> None:
    # Before: a tick stamped 20:42:00 but evaluated at 20:42:45 came first in the log, and already
    # showed the capacity and the cooldown of the alarm decision stamped 20:42:30.
    world = World(MemoryGroup(current=2))
    world.register(asg_body())
    world.signals.cpu = 90
    tick_time = world.clock()
    world.clock.advance(30)
    alarm = world.evaluate("web", event_id="alarm")  # 2 -> 4
    world.clock.advance(15)
    world.signals.cpu = 45
    tick = world.evaluate("web", event_id="tick", at=tick_time)

    assert [d.id for d in world.log.query(query())[0]] == [tick.id, alarm.id]  # newest first
    assert tick.trigger.at < alarm.trigger.at <= alarm.created_at < tick.created_at
    assert tick.created_at - alarm.created_at == timedelta(seconds=15)
    assert tick.current == 4  # what it saw, after the alarm's change, which came first


def query():  # type: ignore[no-untyped-def]
    from chalicelib.store.decisions import DecisionQuery

    return DecisionQuery(target_id="web", limit=10)
