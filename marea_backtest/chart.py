"""Demand and capacity over time, and a zoom on the busiest day, as one PNG (matplotlib).

``draw_comparison`` draws several policies replayed on the same trace, one panel each. Each PNG
carries its title as text (the ``Title`` chunk), so what a chart shows can be read without eyes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display here, and none needed

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from chalicelib.backtest.replay import Result
from chalicelib.backtest.trace import MINUTE_S
from marea_backtest.report import format_minutes

MINUTES_PER_DAY = 1440
DEMAND_COLOR = "#7f7f7f"
READY_COLOR = "#1f77b4"
DESIRED_COLOR = "#ff7f0e"
UNDER_COLOR = "#d62728"
IDEAL_COLOR = "#2ca02c"


def draw_chart(result: Result, path: str | Path) -> None:
    """Two panels: the whole run, and the calendar day with the most requests."""
    start = result.world.start
    per_minute = MINUTE_S // result.step_s
    first, last = busiest_day(result.demand, start, per_minute)
    day_start = start + timedelta(seconds=first * result.step_s)
    midnight = day_start.replace(hour=0, minute=0, second=0, microsecond=0)
    clock_offset_h = (day_start - midnight).total_seconds() / 3600
    figure, (whole, zoom) = plt.subplots(2, 1, figsize=(14, 8.5), layout="constrained")
    s = result.summary
    title = (
        f"{result.trace} from {start:%Y-%m-%d %H:%M %z}: policy {result.policy} on {result.world.kind}"
        f" (delay {result.world.delay_min} min, {result.world.unit_capacity:g} req/min per unit)\n"
        f"under-provisioned {s.under_provisioned_pct:.2f} % of the time, {s.unit_hours:,.0f} unit-hours"
        f" ({s.cost_vs_ideal:.2f}x ideal), {s.scaling_actions:,} scaling actions"
    )
    figure.suptitle(title, fontsize=12)
    _panel(whole, result, 0, len(result.demand), lambda m: m / (MINUTES_PER_DAY * per_minute))
    whole.set_title("whole run", loc="left", fontsize=10)
    whole.set_xlabel(f"days since {start:%a %Y-%m-%d %H:%M %z}")
    _panel(zoom, result, first, last, lambda m: clock_offset_h + (m - first) / (60 * per_minute))
    zoom.set_title(f"busiest day: {day_start:%a %Y-%m-%d}", loc="left", fontsize=10)
    zoom.set_xlabel(f"hour of the day (UTC{start:%z})")
    zoom.set_xticks(range(0, 25, 2))
    figure.savefig(path, dpi=110, metadata={"Title": title})
    plt.close(figure)


def draw_comparison(results: Sequence[Result], path: str | Path, title: str) -> None:
    """One panel per policy replayed on the same trace and world, on shared axes (wall-clock time)."""
    if not results or any(len(r.demand) != len(results[0].demand) or r.world != results[0].world for r in results):
        raise ValueError("draw_comparison needs results of one trace in one world")
    start = results[0].world.start
    step_s = results[0].step_s
    figure, panels = plt.subplots(
        len(results),
        1,
        figsize=(12, 3.2 * len(results) + 1.2),
        sharex=True,
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    figure.suptitle(title, fontsize=12)
    # Shared y: room above the highest line for the legend, which sits top left where short runs start low.
    top = 1.3 * max(max(max(r.desired), max(r.demand) * MINUTE_S / step_s / r.world.unit_capacity) for r in results)

    def x_of(step: int) -> float:
        return float(mdates.date2num(start + timedelta(seconds=step * step_s)))  # type: ignore[no-untyped-call]

    for axes, result in zip(panels[:, 0], results, strict=True):
        _panel(axes, result, 0, len(result.demand), x_of)
        axes.step(
            [x_of(m) for m in range(len(result.demand))],
            [result.world.ideal_units(d, step_s) for d in result.demand],
            where="post",
            color=IDEAL_COLOR,
            linewidth=0.7,
            linestyle=":",
            alpha=0.8,
            label=f"units needed at the target ({result.world.target_utilization:g} %)",
        )
        axes.set_ylim(0, top)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(loc="upper left", fontsize=8, ncols=5)
        s = result.summary
        axes.set_title(
            f"{result.policy}: under-provisioned {s.under_provisioned_pct:.1f} % of the time"
            f" ({format_minutes(s.under_provisioned_minutes)} min), {s.unit_hours:,.1f} unit-hours"
            f" ({s.cost_vs_ideal:.2f}x ideal),"
            f" {s.scaling_actions} scaling actions ({s.scale_outs} out, {s.scale_ins} in)",
            loc="left",
            fontsize=10,
        )
    bottom = panels[-1, 0]
    # matplotlib.dates ships without type hints (hence the ignores); it labels clock times in start's zone.
    locator = mdates.AutoDateLocator(tz=start.tzinfo)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=start.tzinfo))  # type: ignore[no-untyped-call]
    bottom.set_xlabel(f"wall-clock time ({start:%Z}, UTC{start:%z})")
    figure.savefig(path, dpi=110, metadata={"Title": title})
    plt.close(figure)


def busiest_day(demand: Sequence[float], start: datetime, per_minute: int = 1) -> tuple[int, int]:
    """[first, last) steps (``per_minute`` a minute) of the wall-clock day (of ``start``'s zone) with the most
    requests."""
    day = MINUTES_PER_DAY * per_minute
    offset = (start.hour * 60 + start.minute) * per_minute  # steps of the first day already gone at step 0
    best, best_total = (0, min(len(demand), day - offset)), -1.0
    day_start = 0
    while day_start < len(demand):
        day_end = min(len(demand), day_start + (day - offset if day_start == 0 else day))
        total = sum(demand[day_start:day_end])
        if total > best_total:
            best, best_total = (day_start, day_end), total
        day_start = day_end
    return best


def _panel(axes: Axes, result: Result, first: int, last: int, x_of: Callable[[int], float]) -> None:
    world, step_s = result.world, result.step_s
    capacity = world.unit_capacity * step_s / MINUTE_S  # what a unit serves in a step
    minutes = range(first, last)
    x = [x_of(m) for m in minutes]
    axes.plot(
        x,
        [result.demand[m] / capacity for m in minutes],
        color=DEMAND_COLOR,
        linewidth=0.6,
        label="demand (units needed at 100 %)",
    )
    axes.step(x, result.ready[first:last], where="post", color=READY_COLOR, linewidth=1.1, label="ready units")
    axes.step(
        x,
        result.desired[first:last],
        where="post",
        color=DESIRED_COLOR,
        linewidth=0.9,
        linestyle="--",
        label="desired units",
    )
    under = [x_of(m) for m in minutes if world.overloaded(result.demand[m], result.ready[m], step_s)]
    if under:
        label = "under-provisioned minute" if step_s == MINUTE_S else f"under-provisioned {step_s} s"
        axes.plot(under, [0] * len(under), "|", color=UNDER_COLOR, markersize=9, label=label)
    axes.set_ylabel("units")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper right", fontsize=8)
