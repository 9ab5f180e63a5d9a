"""The world model: provisioning delay, immediate scale-in, booting units cancelled first."""

from __future__ import annotations

import pytest

from chalicelib.backtest.world import Fleet, World


def test_given_a_scale_out_at_t_then_units_serve_from_t_plus_delay() -> None:
    fleet = Fleet(ready=2)

    fleet.order(5, step=10, delay_steps=4)

    assert (fleet.ready, fleet.desired) == (2, 5)
    fleet.advance(13)
    assert fleet.ready == 2
    fleet.advance(14)
    assert (fleet.ready, fleet.desired) == (5, 5)


def test_given_booting_units_when_scaling_in_then_the_newest_booting_are_cancelled_first() -> None:
    fleet = Fleet(ready=4)
    fleet.order(6, step=0, delay_steps=4)  # 2 units ready at 4
    fleet.order(9, step=1, delay_steps=4)  # 3 units ready at 5

    fleet.order(5, step=2, delay_steps=4)

    assert (fleet.ready, fleet.desired) == (4, 5)
    assert list(fleet.booting) == [[4, 1]]


def test_given_more_removed_than_booting_when_scaling_in_then_ready_units_go_at_once() -> None:
    fleet = Fleet(ready=4)
    fleet.order(6, step=0, delay_steps=2)

    fleet.order(1, step=1, delay_steps=2)

    assert (fleet.ready, fleet.desired, list(fleet.booting)) == (1, 1, [])


def test_given_a_world_then_ideal_units_are_at_target_within_bounds() -> None:
    world = World(kind="ec2", unit_capacity=10, target_utilization=70, min_units=2, max_units=20)

    assert world.delay_min == 4
    assert [world.ideal_units(d) for d in (0, 70, 71, 10_000)] == [2, 10, 11, 20]
    assert world.utilization(35, 5) == 70.0
    assert world.utilization(35, 0) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "lambda"}, "kind"),
        ({"unit_capacity": 0}, "unit_capacity"),
        ({"target_utilization": 120}, "target_utilization"),
        ({"min_units": 5, "max_units": 2}, "min_units"),
    ],
)
def test_given_impossible_settings_then_the_world_is_refused(fields: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"kind": "fargate", "unit_capacity": 5.0, **fields}
    with pytest.raises(ValueError, match=message):
        World(**settings)  # type: ignore[arg-type]
