"""The demo's simulated clock: it moves within a minute, at the replay's pace, and never into the next one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marea_local.simulated_clock import MAX_DRIFT, SimulatedClock

START = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_it_runs_at_the_replays_pace_from_each_mark() -> None:
    wall = Monotonic()
    clock = SimulatedClock(START, seconds_per_minute=2, monotonic=wall)  # one simulated minute per 2 s
    assert clock.now() == START
    wall.now += 0.1
    assert clock.now() == START + timedelta(seconds=3)
    wall.now += 5
    assert clock.now() == START + MAX_DRIFT  # never reaches the next minute's mark
    clock.mark(START + timedelta(minutes=1))
    assert clock.now() == START + timedelta(minutes=1)


def test_without_a_pause_per_minute_it_jumps_to_the_cap_and_never_overflows() -> None:
    wall = Monotonic()
    clock = SimulatedClock(START, seconds_per_minute=0, monotonic=wall)
    assert clock.now() == START
    wall.now += 0.001
    assert clock.now() == START + MAX_DRIFT


def test_live_it_follows_the_wall_clock() -> None:
    wall = Monotonic()
    clock = SimulatedClock(START, seconds_per_minute=0, monotonic=wall)
    clock.mark(START, seconds_per_minute=60)
    wall.now += 10
    assert clock.now() == START + timedelta(seconds=10)
