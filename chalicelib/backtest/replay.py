"""The replay loop: one decision per minute, the world model applied between decisions."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.backtest.metrics import Summary, summarize
from chalicelib.backtest.policies.aws_target_tracking import AwsTargetTracking
from chalicelib.backtest.policies.base import Controller, Observation
from chalicelib.backtest.policies.engine import EngineController
from chalicelib.backtest.policies.hpa import Hpa
from chalicelib.backtest.policies.presets import marea_target, schedule_from_history, scheduled_target
from chalicelib.backtest.trace import Trace
from chalicelib.backtest.world import Fleet, World
from chalicelib.models.targets import TargetBase

POLICY_NAMES = ("marea", "aws-target-tracking", "hpa", "scheduled")
# A policy by name, or any Marea target (its policies are replayed through the engine as they are).
PolicySpec = str | TargetBase
Progress = Callable[[int, int], None]  # (minutes done, minutes in all)
PROGRESS_EVERY_MIN = 500


@dataclass(frozen=True)
class Result:
    trace: str
    policy: str
    world: World
    initial_units: int
    demand: tuple[float, ...]
    desired: tuple[int, ...]  # units desired (booting + serving) during each minute
    ready: tuple[int, ...]  # units serving each minute
    notes: tuple[str, ...]  # the policy's reason, in the minutes it changed the desired units
    summary: Summary
    cpu_seconds: float  # CPU time of the replay loop


def run_backtest(
    trace: Trace,
    policy: PolicySpec,
    world: World,
    progress: Progress | None = None,
    label: str | None = None,
    alarms: Mapping[str, AlarmDefinition] | None = None,
) -> Result:
    """Replay ``trace`` minute by minute under ``policy`` in ``world``.

    ``alarms``: the CloudWatch alarms of a target's step policies, by name (evaluated in the replay).

    Causal: the decision for minute t is made from minutes before t only, so a replay of the
    first N minutes decides exactly what a replay of the whole trace decides for those minutes
    (for ``scheduled`` by name, from day 7 on: its schedule is written from the first week).
    """
    controller = make_controller(policy, world, trace, alarms)
    initial = world.ideal_units(trace.demand[0]) if trace.demand else world.min_units
    fleet = Fleet(ready=initial)
    desired: list[int] = []
    ready: list[int] = []
    notes: list[str] = []
    last: Observation | None = None
    total = len(trace.demand)
    started = time.process_time()
    for minute, demand in enumerate(trace.demand):
        fleet.advance(minute)
        decision = controller.decide(minute, last, fleet.ready, fleet.desired)
        units = world.clamp(decision.desired)
        changed = units != fleet.desired
        if changed:
            fleet.order(units, minute, world.delay_min)
        desired.append(units)
        ready.append(fleet.ready)
        notes.append(decision.note if changed else "")
        last = Observation(minute, demand, fleet.ready, units, world.utilization(demand, fleet.ready))
        if progress is not None and (minute + 1) % PROGRESS_EVERY_MIN == 0:
            progress(minute + 1, total)
    cpu_seconds = time.process_time() - started
    if progress is not None:
        progress(total, total)
    return Result(
        trace=trace.name,
        policy=label or _label(policy),
        world=world,
        initial_units=initial,
        demand=trace.demand,
        desired=tuple(desired),
        ready=tuple(ready),
        notes=tuple(notes),
        summary=summarize(world, trace.demand, desired, ready, initial),
        cpu_seconds=cpu_seconds,
    )


def make_controller(
    policy: PolicySpec, world: World, trace: Trace, alarms: Mapping[str, AlarmDefinition] | None = None
) -> Controller:
    if isinstance(policy, TargetBase):
        return EngineController(policy, world, alarms)
    if policy == "marea":
        return EngineController(marea_target(world), world)
    if policy == "scheduled":
        return EngineController(scheduled_target(world, schedule_from_history(trace.demand, world)), world)
    if policy == "aws-target-tracking":
        return AwsTargetTracking(world)
    if policy == "hpa":
        return Hpa(world)
    raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICY_NAMES)}")


def _label(policy: PolicySpec) -> str:
    if isinstance(policy, TargetBase):
        return "+".join(p.name for p in policy.policies) or policy.id
    return policy
