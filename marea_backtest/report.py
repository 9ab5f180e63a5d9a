"""What a replay leaves behind: the per-minute CSV and the printed summary."""

from __future__ import annotations

import csv
from pathlib import Path

from chalicelib.backtest.replay import Result
from chalicelib.backtest.world import World

CSV_COLUMNS = ["minute", "demand", "desired", "ready", "ideal", "utilization", "under_provisioned", "note"]


def write_csv(result: Result, path: str | Path) -> None:
    """One row per minute: the trace, the units, and the policy's reason when it changed them."""
    world = result.world
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for minute, (demand, desired, ready, note) in enumerate(
            zip(result.demand, result.desired, result.ready, result.notes, strict=True)
        ):
            utilization = world.utilization(demand, ready)
            writer.writerow(
                [
                    minute,
                    f"{demand:g}",
                    desired,
                    ready,
                    world.ideal_units(demand),
                    "" if utilization is None else f"{utilization:.1f}",
                    int(demand > ready * world.unit_capacity),
                    note,
                ]
            )


def format_summary(result: Result) -> str:
    s = result.summary
    lines = [
        f"backtest of {result.trace} ({s.minutes:,} minutes) with policy {result.policy}",
        format_world(result.world),
        f"  under-provisioned minutes  {s.under_provisioned_pct:8.2f} %  ({s.under_provisioned_minutes:,} minutes)",
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
