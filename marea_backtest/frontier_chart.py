"""The frontier of a sweep as one PNG: unit-hours (x) against short minutes (y), a curve per policy."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display here, and none needed

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from chalicelib.backtest.replay import Result

# Where a curve bunches up (high targets change little), a label closer than this to the last one drawn
# would sit on it: it is left out, the point stays.
LABEL_SPACING_PX = 16


def draw_frontier(results: Sequence[Result], default_target: float, path: str | Path, title: str) -> None:
    """Each point labelled with its target utilization; the default target ringed on each curve."""
    figure, axes = plt.subplots(figsize=(10, 7), layout="constrained")
    figure.suptitle(title, fontsize=12)
    curves = {}
    for policy in dict.fromkeys(result.policy for result in results):
        curve = sorted((r for r in results if r.policy == policy), key=lambda r: r.world.target_utilization)
        points = [(r.summary.unit_hours, float(r.summary.under_provisioned_minutes)) for r in curve]
        (line,) = axes.plot(*zip(*points, strict=True), marker="o", markersize=4, linewidth=1.2, label=policy)
        for result, point in zip(curve, points, strict=True):
            if result.world.target_utilization == default_target:
                axes.plot(*point, marker="o", markersize=13, fillstyle="none", color=line.get_color(), mew=1.6)
        curves[policy] = list(zip(curve, points, strict=True))
    axes.plot([], [], "o", markersize=13, fillstyle="none", color="black", label=f"target {default_target:g} %")
    axes.set_xlabel("unit-hours (cost: desired units, booting and serving)")
    axes.set_ylabel("short minutes (demand > ready units x capacity)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=9, title="policy (points: target utilization %)", title_fontsize=9)
    figure.canvas.draw()  # settles limits and layout, so label spacing is measured in the pixels saved
    for labelled in curves.values():
        _label_targets(axes, labelled, default_target)
    figure.savefig(path, dpi=110, metadata={"Title": title})
    plt.close(figure)


def _label_targets(axes: Axes, curve: list[tuple[Result, tuple[float, float]]], default_target: float) -> None:
    last: tuple[float, float] | None = None
    for result, point in curve:
        target = result.world.target_utilization
        x, y = axes.transData.transform(point)
        if target != default_target and last is not None and math.dist((x, y), last) < LABEL_SPACING_PX:
            continue
        axes.annotate(f"{target:g}", point, textcoords="offset points", xytext=(4, 4), fontsize=7)
        last = (x, y)
