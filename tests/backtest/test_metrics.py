"""Summary figures on a trajectory small enough to check by hand."""

from __future__ import annotations

import pytest

from chalicelib.backtest.metrics import summarize
from chalicelib.backtest.world import World

WORLD = World(kind="fargate", unit_capacity=10.0, target_utilization=50)


def test_given_a_hand_made_trajectory_then_every_figure_is_as_computed_by_hand() -> None:
    demand = [10.0, 30.0, 30.0, 5.0]  # ideal units at 50 %: 2, 6, 6, 1
    desired = [2, 4, 6, 6]
    ready = [2, 2, 6, 6]

    s = summarize(WORLD, demand, desired, ready, initial=2)

    assert s.minutes == 4
    assert s.under_provisioned_minutes == 1  # minute 1: 30 > 2 x 10
    assert s.under_provisioned_pct == 25.0
    assert s.unit_hours == pytest.approx(18 / 60)
    assert s.ideal_unit_hours == pytest.approx(15 / 60)
    assert s.cost_vs_ideal == pytest.approx(1.2)
    assert (s.scaling_actions, s.scale_outs, s.scale_ins) == (2, 2, 0)
    assert s.tau_u == 25.0  # minute 1: 6 needed, 2 ready
    assert s.theta_u == pytest.approx(100 / 4 * (4 / 6))
    assert s.tau_o == 25.0  # minute 3: 1 needed, 6 ready
    assert s.theta_o == pytest.approx(100 / 4 * 5)
    # ready changes once (2 -> 6), the ideal twice (2 -> 6 -> 1), over 4 minutes.
    assert s.jitter_per_hour == pytest.approx((1 - 2) / (4 / 60))
