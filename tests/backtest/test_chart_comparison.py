"""``draw_comparison``: several policies replayed on one trace, drawn on one figure."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from marea_backtest import World, run_backtest, trace_from_rates
from marea_backtest.chart import draw_comparison

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def world(target_utilization: float = 60.0) -> World:
    start = datetime(1995, 7, 13, 6, 0, tzinfo=ZoneInfo("America/New_York"))
    return World(kind="ec2", unit_capacity=50.0, target_utilization=target_utilization, min_units=2, start=start)


def test_given_two_policies_on_one_trace_when_compared_then_one_png_holds_a_panel_each(tmp_path: Path) -> None:
    trace = trace_from_rates("step", [40.0] * 60 + [400.0] * 120)
    results = [run_backtest(trace, policy, world()) for policy in ("marea", "aws-target-tracking")]
    one = tmp_path / "one.png"
    two = tmp_path / "two.png"

    draw_comparison(results[:1], one, "one policy")
    draw_comparison(results, two, "marea against AWS target tracking")

    for path in (one, two):
        assert path.read_bytes()[:8] == PNG_SIGNATURE
    width_one, height_one = struct.unpack(">II", one.read_bytes()[16:24])
    width_two, height_two = struct.unpack(">II", two.read_bytes()[16:24])
    assert width_two == width_one
    assert height_two > height_one  # a panel more


def test_given_results_of_different_worlds_when_compared_then_it_is_refused(tmp_path: Path) -> None:
    trace = trace_from_rates("flat", [100.0] * 30)
    results = [run_backtest(trace, "marea", world(60)), run_backtest(trace, "marea", world(70))]

    with pytest.raises(ValueError, match="one trace in one world"):
        draw_comparison(results, tmp_path / "mixed.png", "mixed")
    with pytest.raises(ValueError, match="one trace in one world"):
        draw_comparison([], tmp_path / "none.png", "none")
    assert not (tmp_path / "mixed.png").exists()
