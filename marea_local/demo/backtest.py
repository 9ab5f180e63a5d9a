"""The end of `make demo`: the minutes just replayed, backtested under Marea's policy and AWS target tracking.

The live replay shows what the demo's registered policies did; this answers the question a person
asks next: what would Marea's default policy (``marea``, predictive) and AWS target tracking have
done with the same traffic? Both are replayed by ``marea_backtest`` (the engine the Lambdas run, in
the world model of docs/backtesting.md) in the world of the demo's web tier as registered: its kind
(an Auto Scaling group is ``ec2``), its min and max, the target of its CPU target-tracking policy as
the target utilization, and the capacity of an instance as the demo's workload model defines it
(marea_local/demo/workload.py: ``unit_capacity`` of demand at 100 % CPU, demand = trace requests x
``demand_scale``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from chalicelib.models.targets import (
    AsgTarget,
    CustomMetric,
    EcsTarget,
    KopsTarget,
    PredefinedMetric,
    PredefinedMetricType,
    TargetTrackingPolicy,
)
from marea_backtest import Result, Trace, World, run_backtest, trace_from_rates

COMPARED_POLICIES = ("marea", "aws-target-tracking")
# A target's kind -> the backtest world's kind (its provisioning delay).
KIND_OF_TARGET: dict[str, Literal["ec2", "fargate", "kops"]] = {"asg": "ec2", "ecs": "fargate", "kops": "kops"}
# The NASA Kennedy Space Center logs are in local time: trace minute 0 is 1995-07-01 00:00 EDT.
TRACE_ZONE = ZoneInfo("America/New_York")
TRACE_START = datetime(1995, 7, 1, tzinfo=TRACE_ZONE)
# Metrics whose target value is a utilization in percent of what the units can serve.
CPU_METRICS = {PredefinedMetricType.ASG_AVERAGE_CPU, PredefinedMetricType.ECS_SERVICE_AVERAGE_CPU}

Say = Callable[[str], None]


@dataclass(frozen=True)
class Window:
    """Minutes ``[first, first + minutes)`` of the demo trace, and their wall-clock start."""

    first: int
    minutes: int

    @property
    def start(self) -> datetime:
        # Wall-clock arithmetic in the trace's zone (July 1995 has no DST change).
        return TRACE_START + timedelta(minutes=self.first)

    @property
    def label(self) -> str:
        end = self.start + timedelta(minutes=self.minutes)
        day = "" if end.date() == self.start.date() else f"{end:%Y-%m-%d} "
        return f"{self.start:%Y-%m-%d %H:%M}-{day}{end:%H:%M %Z}"

    def trace(self, requests: Sequence[int]) -> Trace:
        """The window's per-minute requests as a backtest trace."""
        if not 0 <= self.first <= self.first + self.minutes <= len(requests) or self.minutes < 1:
            raise ValueError(f"minutes {self.first}..{self.first + self.minutes} are not in the trace")
        return trace_from_rates("NASA KSC", requests[self.first : self.first + self.minutes])


def target_world(target: AsgTarget | EcsTarget | KopsTarget, requests_per_unit: float, start: datetime) -> World:
    """The backtest world of a registered target scaled on CPU: kind, min, max, CPU target, unit capacity.

    ``requests_per_unit``: trace requests per minute one unit serves at 100 % CPU.
    """
    tracking = [p for p in target.policies if isinstance(p, TargetTrackingPolicy) and _is_cpu(p)]
    if not tracking:
        raise ValueError(f"target {target.id!r} has no CPU target-tracking policy to take a target utilization from")
    return World(
        kind=KIND_OF_TARGET[target.kind],
        unit_capacity=requests_per_unit,
        target_utilization=tracking[0].target_value,
        min_units=target.min,
        max_units=target.max,
        start=start,
    )


def backtest(trace: Trace, world: World) -> list[Result]:
    """The trace replayed under each compared policy, in order."""
    return [run_backtest(trace, policy, world) for policy in COMPARED_POLICIES]


def format_table(results: Sequence[Result]) -> list[str]:
    """One line per policy: under-provisioned minutes, unit-hours, scaling actions."""
    lines = [f"  {'policy':<20}   {'under-provisioned minutes':>25}   {'unit-hours':>10}   {'scaling actions':>22}"]
    for result in results:
        s = result.summary
        under = f"{s.under_provisioned_pct:.1f} % ({s.under_provisioned_steps} min)"  # a minute a step
        actions = f"{s.scaling_actions} ({s.scale_outs} out, {s.scale_ins} in)"
        lines.append(f"  {result.policy:<20}   {under:>25}   {s.unit_hours:>10.1f}   {actions:>22}")
    return lines


def chart_title(target_id: str, window: Window, world: World) -> str:
    return (
        f"Backtest of the {window.minutes} minutes the demo replayed: NASA KSC trace {window.label}"
        f" (STS-70 launch day)\n"
        f"target '{target_id}' as registered: {world.kind} (units serve {world.delay_min} min after the order),"
        f" {world.unit_capacity:g} requests/min per unit at 100 % CPU, target {world.target_utilization:g} % CPU,"
        f" {world.min_units}-{world.max_units} units"
    )


def report_backtest(
    target: AsgTarget | EcsTarget | KopsTarget,
    requests_per_unit: float,
    requests: Sequence[int],
    window: Window,
    chart: Path,
    say: Say,
) -> list[Result]:
    """Backtest ``window`` of ``requests`` for ``target``, print the table and draw the chart."""
    started = time.monotonic()
    world = target_world(target, requests_per_unit, window.start)
    say("")
    say(
        f"backtest: replaying the same {window.minutes} minutes ({window.label}) for target '{target.id}' under "
        f"{' and '.join(COMPARED_POLICIES)} (marea_backtest, the engine the Lambdas run) ..."
    )
    results = backtest(window.trace(requests), world)
    say(f"backtest: drawing the chart ({time.monotonic() - started:.1f} s so far) ...")
    from marea_backtest.chart import draw_comparison  # matplotlib loads in about a second: only when drawing

    chart.parent.mkdir(parents=True, exist_ok=True)
    draw_comparison(results, chart, chart_title(target.id, window, world))
    say(
        f"backtest of {window.label} for '{target.id}': {world.kind}, {world.unit_capacity:g} requests/min per "
        f"unit, target {world.target_utilization:g} % CPU, {world.min_units}-{world.max_units} units "
        f"({time.monotonic() - started:.1f} s)"
    )
    for line in format_table(results):
        say(line)
    say(f"  chart: {chart}")
    return results


def _is_cpu(policy: TargetTrackingPolicy) -> bool:
    metric = policy.metric
    if isinstance(metric, PredefinedMetric):
        return metric.predefined in CPU_METRICS
    return isinstance(metric, CustomMetric) and metric.metric_name == "CPUUtilization"
