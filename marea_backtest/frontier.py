"""The cost-risk frontier of a sweep: each policy at each target utilization, as a table and a CSV.

Short (under-provisioned) minutes do not depend on the target, unit-hours are what is paid: the two
axes on which a user picks an operating point. The ideal moves with the target, so a sweep reports
unit-hours, not cost relative to the ideal.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from chalicelib.backtest.replay import Result
from marea_backtest.report import format_length, format_minutes, format_world, minutes_cell

CSV_COLUMNS = [
    "policy",
    "target_utilization",
    "unit_hours",
    "under_provisioned_minutes",
    "under_provisioned_pct",
    "scaling_actions",
    "default",
]
DEFAULT_MARK = "*"


def format_frontier(results: Sequence[Result], default_target: float) -> str:
    first = results[0]
    lines = [
        f"frontier of {first.trace} ({format_length(first)}): unit-hours against short minutes,"
        f" each policy at each target utilization ({DEFAULT_MARK} = --target-utilization {default_target:g})",
        format_world(first.world, with_target=False),
        f"  {'policy':<20} {'target %':>8} {'unit-hours':>11} {'short min':>9} {'short %':>8} {'actions':>8}",
    ]
    for result in results:
        s = result.summary
        target = result.world.target_utilization
        mark = f"  {DEFAULT_MARK}" if target == default_target else ""
        lines.append(
            f"  {result.policy:<20} {target:>8.1f} {s.unit_hours:>11,.1f}"
            f" {format_minutes(s.under_provisioned_minutes):>9} {s.under_provisioned_pct:>8.2f}"
            f" {s.scaling_actions:>8,}{mark}"
        )
    return "\n".join(lines)


def write_frontier_csv(results: Sequence[Result], default_target: float, path: str | Path) -> None:
    with Path(path).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for result in results:
            s = result.summary
            target = result.world.target_utilization
            writer.writerow(
                [
                    result.policy,
                    f"{target:g}",
                    f"{s.unit_hours:.3f}",
                    minutes_cell(s.under_provisioned_minutes),
                    f"{s.under_provisioned_pct:.3f}",
                    s.scaling_actions,
                    int(target == default_target),
                ]
            )
