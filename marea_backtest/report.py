"""What a replay leaves behind: the per-step CSV (a row a minute unless the replay is finer) and the printed summary."""

from __future__ import annotations

import csv
from pathlib import Path

from chalicelib.backtest.replay import Result
from chalicelib.backtest.trace import MINUTE_S
from chalicelib.backtest.world import World

CSV_COLUMNS = ["minute", "demand", "desired", "ready", "ideal", "utilization", "under_provisioned", "note"]
# A finer replay's rows are steps: the first column counts seconds since the start instead.
FINE_CSV_COLUMNS = ["second", *CSV_COLUMNS[1:]]


def write_csv(result: Result, path: str | Path) -> None:
    """One row per step: the trace, the units, and the policy's reason when it changed them."""
    world, step_s = result.world, result.step_s
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS if step_s == MINUTE_S else FINE_CSV_COLUMNS)
        scale = 1 if step_s == MINUTE_S else step_s  # minutes, or seconds
        for step, (demand, desired, ready, note) in enumerate(
            zip(result.demand, result.desired, result.ready, result.notes, strict=True)
        ):
            utilization = world.utilization(demand, ready, step_s)
            writer.writerow(
                [
                    step * scale,
                    f"{demand:g}",
                    desired,
                    ready,
                    world.ideal_units(demand, step_s),
                    "" if utilization is None else f"{utilization:.1f}",
                    int(world.overloaded(demand, ready, step_s)),
                    note,
                ]
            )


def format_minutes(minutes: float) -> str:
    """``39,692`` for whole minutes, ``6.3`` for a finer replay's part of one."""
    return f"{minutes:,.0f}" if minutes == int(minutes) else f"{minutes:,.1f}"


def minutes_cell(minutes: float) -> str:
    """A CSV cell: ``12`` for whole minutes, ``6.333`` for a finer replay's part of one."""
    return str(int(minutes)) if minutes == int(minutes) else f"{minutes:.3f}"


def format_length(result: Result) -> str:
    """How long the replay is, and its step when finer than a minute."""
    step = "" if result.step_s == MINUTE_S else f" in {result.step_s} s steps"
    return f"{format_minutes(result.summary.minutes)} minutes{step}"


def format_summary(result: Result) -> str:
    s = result.summary
    lines = [
        f"backtest of {result.trace} ({format_length(result)}) with policy {result.policy}",
        format_world(result.world),
        f"  under-provisioned minutes  {s.under_provisioned_pct:8.2f} %"
        f"  ({format_minutes(s.under_provisioned_minutes)} minutes)",
        f"  unit-hours                 {s.unit_hours:11,.1f}  (ideal {s.ideal_unit_hours:,.1f})",
        f"  cost relative to ideal     {s.cost_vs_ideal:8.3f}",
        f"  scaling actions            {s.scaling_actions:8,}  ({s.scale_outs:,} out, {s.scale_ins:,} in)",
        "  SPEC elasticity            "
        f"θU {s.theta_u:.2f} %  θO {s.theta_o:.2f} %  τU {s.tau_u:.2f} %  τO {s.tau_o:.2f} %"
        f"  jitter {s.jitter_per_hour:+.2f}/h",
        f"  replay time                {result.cpu_seconds:8.2f} s CPU",
    ]
    return "\n".join(lines)


def format_world(world: World, with_target: bool = True) -> str:
    target = f", target {world.target_utilization:g} %" if with_target else ""
    return (
        f"  world: {world.kind} (provisioning delay {world.delay_min} min), {world.unit_capacity:g} requests/min"
        f" per unit{target}, units in [{world.min_units}, {world.max_units}]"
    )
