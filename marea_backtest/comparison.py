"""One table for several policies replayed on one trace in one world, with ratios to a reference."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.backtest.replay import Result
from marea_backtest.report import format_length, format_minutes, format_world

# The baseline users know: AWS target tracking when it is in the list, otherwise the first policy named.
REFERENCE_POLICY = "aws-target-tracking"
NOT_A_RATIO = "n/a"  # the reference's figure is 0


def reference(results: Sequence[Result]) -> tuple[Result, str]:
    """The result the ratios divide by, and the header's words for it."""
    for result in results:
        if result.policy == REFERENCE_POLICY:
            return result, f"ratios to {REFERENCE_POLICY}"
    return results[0], f"ratios to {results[0].policy} (the first policy)"


def format_comparison(results: Sequence[Result]) -> str:
    base, ratios_to = reference(results)
    b = base.summary
    lines = [
        f"backtest of {base.trace} ({format_length(base)}), {len(results)} policies; {ratios_to}",
        format_world(base.world),
        f"  {'policy':<20} {'short min':>9} {'short %':>8} {'unit-hours':>11} {'x ideal':>8} {'actions':>8}"
        f" {'short/ref':>10} {'unit-h/ref':>10} {'actions/ref':>11} {'CPU s':>7}",
    ]
    for result in results:
        s = result.summary
        lines.append(
            f"  {result.policy:<20} {format_minutes(s.under_provisioned_minutes):>9} {s.under_provisioned_pct:>8.2f}"
            f" {s.unit_hours:>11,.1f} {s.cost_vs_ideal:>8.3f} {s.scaling_actions:>8,}"
            f" {_ratio(s.under_provisioned_minutes, b.under_provisioned_minutes):>10}"
            f" {_ratio(s.unit_hours, b.unit_hours):>10} {_ratio(s.scaling_actions, b.scaling_actions):>11}"
            f" {result.cpu_seconds:>7.2f}"
        )
    lines.append("  short: under-provisioned (demand > ready units x capacity); x ideal: unit-hours / the ideal's")
    return "\n".join(lines)


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else NOT_A_RATIO
