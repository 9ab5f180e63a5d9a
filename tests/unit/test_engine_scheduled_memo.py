"""The remembered firing of a scheduled action is always the answer a fresh search gives."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.engine import scheduled
from chalicelib.models.targets import ScheduledAction
from tests.unit.engine_factories import NOW

CRONS = ["0 8 * * MON-FRI", "30 2 * * *", "*/15 * * * *", "0 20 * * *", "0 0 1 * *", "0 * * * SUN", "0 9 29 2 *"]
ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Australia/Lord_Howe"]


@settings(max_examples=60, deadline=None)
@given(
    cron=st.sampled_from(CRONS),
    zone=st.sampled_from(ZONES),
    excluded=st.lists(st.dates(date(2024, 3, 1), date(2024, 5, 31)), max_size=6),
    steps=st.lists(st.integers(min_value=-90, max_value=6 * 60), min_size=1, max_size=40),
)
def test_property_a_walk_through_time_gets_the_same_firings_as_fresh_searches(
    cron: str, zone: str, excluded: list[date], steps: list[int]
) -> None:
    action = ScheduledAction(name="a", cron=cron, timezone=zone, min_capacity=1, exclude_dates=excluded)
    now: datetime = NOW - timedelta(days=3)
    scheduled._FIRINGS.clear()
    for step in steps:
        now += timedelta(minutes=step, seconds=17)
        remembered = scheduled.last_firing(action, now)
        fresh = scheduled._search_last_firing(action, now)
        assert (remembered.at, remembered.skipped) == (fresh.at, fresh.skipped), now
