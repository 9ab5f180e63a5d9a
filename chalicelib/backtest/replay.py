"""The replay loop: one decision per step of the trace (a minute unless it is finer), the world model applied
between decisions."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.backtest.metrics import Summary, summarize
from chalicelib.backtest.policies.aws_target_tracking import AwsTargetTracking
from chalicelib.backtest.policies.base import Controller, Observation
from chalicelib.backtest.policies.engine import EngineController
from chalicelib.backtest.policies.every_minute import EveryMinute
from chalicelib.backtest.policies.hpa import Hpa
from chalicelib.backtest.policies.presets import marea_target, schedule_from_history, scheduled_target
from chalicelib.backtest.trace import MINUTE_S, Trace, TraceError
from chalicelib.backtest.world import Fleet, World
from chalicelib.models.targets import TargetBase

POLICY_NAMES = ("marea", "aws-target-tracking", "hpa", "scheduled")
# A policy by name, or any Marea target (its policies are replayed through the engine as they are).
PolicySpec = str | TargetBase
Progress = Callable[[int, int], None]  # (steps done, steps in all)
PROGRESS_EVERY_STEPS = 500


@dataclass(frozen=True)
class Result:
    trace: str
    policy: str
    world: World
    initial_units: int
    demand: tuple[float, ...]  # requests in each step
    desired: tuple[int, ...]  # units desired (booting + serving) during each step
    ready: tuple[int, ...]  # units serving each step
    notes: tuple[str, ...]  # the policy's reason, in the steps it changed the desired units
    summary: Summary
    cpu_seconds: float  # CPU time of the replay loop

    @property
    def step_s(self) -> int:
        return self.summary.step_s


def run_backtest(
    trace: Trace,
    policy: PolicySpec,
    world: World,
    progress: Progress | None = None,
    label: str | None = None,
    alarms: Mapping[str, AlarmDefinition] | None = None,
) -> Result:
    """Replay ``trace`` step by step (``trace.step_s``: a minute unless finer) under ``policy`` in ``world``.

    ``alarms``: the CloudWatch alarms of a target's step policies (and, in a finer replay, its target-tracking
    policies' trigger alarms), by name (evaluated in the replay).

    Causal: the decision for step t is made from steps before t only, so a replay of the
    first N steps decides exactly what a replay of the whole trace decides for those steps
    (for ``scheduled`` by name, from day 7 on: its schedule is written from the first week).
    """
    step_s = trace.step_s
    if step_s < MINUTE_S and (world.start.second or world.start.microsecond):
        # The schedule ticks on the minute and 1-minute periods close on it: a finer replay counts both from
        # the step index, so step 0 must be on a minute, as a minute replay's ticks are its minutes.
        raise TraceError(
            f"{trace.name}: a replay in {step_s} s steps starts on a whole minute, not at {world.start.isoformat()}"
        )
    controller = make_controller(policy, world, trace, alarms)
    initial = world.ideal_units(trace.demand[0], step_s) if trace.demand else world.min_units
    delay_steps = world.delay_steps(step_s)
    fleet = Fleet(ready=initial)
    desired: list[int] = []
    ready: list[int] = []
    notes: list[str] = []
    last: Observation | None = None
    total = len(trace.demand)
    started = time.process_time()
    for step, demand in enumerate(trace.demand):
        fleet.advance(step)
        decision = controller.decide(step, last, fleet.ready, fleet.desired)
        units = world.clamp(decision.desired)
        changed = units != fleet.desired
        if changed:
            fleet.order(units, step, delay_steps)
        desired.append(units)
        ready.append(fleet.ready)
        notes.append(decision.note if changed else "")
        last = Observation(step, demand, fleet.ready, units, world.utilization(demand, fleet.ready, step_s))
        if progress is not None and (step + 1) % PROGRESS_EVERY_STEPS == 0:
            progress(step + 1, total)
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
        summary=summarize(world, trace.demand, desired, ready, initial, step_s),
        cpu_seconds=cpu_seconds,
    )


def make_controller(
    policy: PolicySpec, world: World, trace: Trace, alarms: Mapping[str, AlarmDefinition] | None = None
) -> Controller:
    step_s = trace.step_s
    if isinstance(policy, TargetBase):
        return EngineController(policy, world, alarms, step_s)
    if policy == "marea":
        return EngineController(marea_target(world), world, step_s=step_s)
    if policy == "scheduled":
        schedule = schedule_from_history(trace.demand, world, step_s=step_s)
        return EngineController(scheduled_target(world, schedule), world, step_s=step_s)
    if policy == "aws-target-tracking":
        return _every_minute(AwsTargetTracking(world), step_s)
    if policy == "hpa":
        return _every_minute(Hpa(world), step_s)
    raise ValueError(f"unknown policy {policy!r}: choose one of {', '.join(POLICY_NAMES)}")


def _every_minute(baseline: Controller, step_s: int) -> Controller:
    """A 1-minute baseline as it is in a minute replay, and fed whole minutes in a finer one."""
    return baseline if step_s == MINUTE_S else EveryMinute(baseline, step_s)


def _label(policy: PolicySpec) -> str:
    if isinstance(policy, TargetBase):
        return "+".join(p.name for p in policy.policies) or policy.id
    return policy
