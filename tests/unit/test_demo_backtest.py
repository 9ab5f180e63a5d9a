"""The backtest at the end of `make demo`: its window, its world and its table."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.store.items import TARGET_ADAPTER
from marea_backtest import World, run_backtest, trace_from_rates
from marea_local.demo import REPLAY_START_MINUTE
from marea_local.demo.backtest import COMPARED_POLICIES, Window, backtest, format_table, target_world
from marea_local.example_targets import example_target

EDT = ZoneInfo("America/New_York")


def test_given_the_demo_replay_start_when_windowed_then_it_is_the_sts70_morning_in_edt() -> None:
    window = Window(first=REPLAY_START_MINUTE, minutes=150)

    assert window.start == datetime(1995, 7, 13, 6, 0, tzinfo=EDT)
    assert window.label == "1995-07-13 06:00-08:30 EDT"
    assert Window(first=REPLAY_START_MINUTE, minutes=1440).label == "1995-07-13 06:00-1995-07-14 06:00 EDT"


def test_given_a_window_when_traced_then_it_holds_exactly_its_minutes() -> None:
    requests = list(range(100))

    trace = Window(first=10, minutes=5).trace(requests)

    assert trace.demand == (10.0, 11.0, 12.0, 13.0, 14.0)


@pytest.mark.parametrize(("first", "minutes"), [(98, 5), (-1, 3), (0, 0)])
def test_given_a_window_outside_the_trace_when_traced_then_it_is_refused(first: int, minutes: int) -> None:
    with pytest.raises(ValueError, match="not in the trace"):
        Window(first=first, minutes=minutes).trace(list(range(100)))


def test_given_the_registered_web_target_when_its_world_is_built_then_it_has_the_targets_bounds_and_cpu_target() -> (
    None
):
    start = datetime(1995, 7, 13, 6, 0, tzinfo=EDT)

    world = target_world(TARGET_ADAPTER.validate_python(example_target("web")), 50.0, start)

    assert world == World(
        kind="ec2", unit_capacity=50.0, target_utilization=60.0, min_units=2, max_units=20, start=start
    )


def test_given_a_kops_target_on_node_cpu_when_its_world_is_built_then_the_kind_is_kops() -> None:
    target = TARGET_ADAPTER.validate_python(example_target("nodes"))

    world = target_world(target, 80.0, datetime(1995, 7, 13, tzinfo=EDT))

    assert (world.kind, world.target_utilization, world.min_units, world.max_units) == ("kops", 65.0, 2, 15)


def test_given_a_target_not_scaled_on_cpu_when_its_world_is_built_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="no CPU target-tracking policy"):
        target_world(TARGET_ADAPTER.validate_python(example_target("chat")), 62.5, datetime(1995, 7, 13, tzinfo=EDT))


def test_given_both_policies_backtested_when_tabled_then_each_line_shows_its_figures() -> None:
    world = World(kind="ec2", unit_capacity=50.0, target_utilization=60.0, min_units=2, max_units=20)
    trace = trace_from_rates("ramp", [40.0] * 30 + [400.0] * 60)

    results = backtest(trace, world)
    lines = format_table(results)

    assert [r.policy for r in results] == list(COMPARED_POLICIES)
    assert results[1].summary == run_backtest(trace, "aws-target-tracking", world).summary
    assert len(lines) == 3
    assert "under-provisioned minutes" in lines[0]
    for line, result in zip(lines[1:], results, strict=True):
        s = result.summary
        assert line.split() == [
            result.policy,
            f"{s.under_provisioned_pct:.1f}",
            "%",
            f"({s.under_provisioned_steps}",  # a minute a step
            "min)",
            f"{s.unit_hours:.1f}",
            str(s.scaling_actions),
            f"({s.scale_outs}",
            "out,",
            str(s.scale_ins),
            "in)",
        ]
        assert s.under_provisioned_minutes > 0  # the step up is faster than any delay: both are short a while
