"""Scheduled bounds: most recent firing in the action's zone, DST, durations and exclusion dates."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.engine import scheduled
from chalicelib.models.decisions import Vote
from chalicelib.models.reasons import ReasonCode
from tests.unit.engine_factories import action, scheduled_policy

R = ReasonCode
MADRID = "Europe/Madrid"  # CET (UTC+1) until 2024-03-31 02:00, then CEST (UTC+2) until 2024-10-27 03:00


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "active", "fired"),
    [
        pytest.param(utc(2024, 3, 29, 7, 0), True, "2024-03-29 08:00", id="fri-winter-exactly-at-firing"),
        pytest.param(utc(2024, 3, 29, 6, 59), False, None, id="fri-winter-one-minute-before"),
        pytest.param(utc(2024, 3, 29, 6, 30), False, None, id="fri-winter-0630utc-is-0730-local"),
        pytest.param(utc(2024, 4, 1, 6, 0), True, "2024-04-01 08:00", id="mon-summer-0600utc-is-0800-local"),
        pytest.param(utc(2024, 4, 1, 6, 30), True, "2024-04-01 08:00", id="mon-summer-0630utc-is-0830-local"),
        pytest.param(utc(2024, 4, 1, 5, 59), False, None, id="mon-summer-one-minute-before"),
        pytest.param(utc(2024, 4, 1, 15, 59), True, "2024-04-01 08:00", id="mon-summer-last-minute-of-600"),
        pytest.param(utc(2024, 4, 1, 16, 0), False, None, id="mon-summer-ended-after-600-min"),
    ],
)
def test_given_madrid_business_hours_when_dst_starts_then_the_floor_follows_local_time(
    now: datetime, active: bool, fired: str | None
) -> None:
    policy = scheduled_policy(action(cron="0 8 * * MON-FRI", timezone=MADRID, min_capacity=10, duration_minutes=600))

    result = scheduled.propose(policy, now)

    assert result.vote is Vote.ABSTAIN
    assert result.proposed is None
    assert result.floor == (10 if active else None)
    assert result.reasons == [R.SCHEDULE_ACTIVE if active else R.SCHEDULE_INACTIVE]
    if fired:
        assert f"in force since {fired} {MADRID}" in result.detail


@pytest.mark.parametrize(
    ("now", "fired"),
    [
        pytest.param(utc(2024, 3, 31, 0, 59), "2024-03-30 02:30", id="before-the-gap-yesterday"),
        pytest.param(utc(2024, 3, 31, 1, 0), "2024-03-31 03:00", id="0230-does-not-exist-fires-at-0300"),
        pytest.param(utc(2024, 4, 1, 0, 30), "2024-04-01 02:30", id="next-day-back-to-normal"),
    ],
)
def test_given_firing_inside_the_spring_forward_gap_when_proposing_then_it_fires_at_the_gap_end(
    now: datetime, fired: str
) -> None:
    policy = scheduled_policy(action(cron="30 2 * * *", timezone=MADRID, min_capacity=5))

    result = scheduled.propose(policy, now)

    assert result.floor == 5
    assert f"since {fired} {MADRID}" in result.detail


@pytest.mark.parametrize(
    ("now", "active"),
    [
        pytest.param(utc(2024, 10, 27, 1, 59), True, id="179-minutes-after-firing"),
        pytest.param(utc(2024, 10, 27, 2, 0), False, id="180-elapsed-minutes-though-wall-clock-says-179"),
    ],
)
def test_given_duration_across_dst_end_when_proposing_then_it_counts_elapsed_minutes(
    now: datetime, active: bool
) -> None:
    # Fires 01:00 CEST = 2024-10-26 23:00 UTC; the clocks go back an hour during its 180 minutes.
    policy = scheduled_policy(action(cron="0 1 * * *", timezone=MADRID, max_capacity=3, duration_minutes=180))

    result = scheduled.propose(policy, now)

    assert result.ceiling == (3 if active else None)


@pytest.mark.parametrize(
    ("now", "floor", "ceiling", "names"),
    [
        pytest.param(utc(2024, 3, 29, 12), 6, 8, ["morning"], id="morning-sets-both"),
        pytest.param(utc(2024, 3, 29, 21), 1, 2, ["evening"], id="evening-replaces-both"),
        pytest.param(utc(2024, 3, 30, 7), 1, 2, ["evening"], id="until-next-morning"),
    ],
)
def test_given_several_actions_when_proposing_then_the_latest_firing_wins(
    now: datetime, floor: int | None, ceiling: int | None, names: list[str]
) -> None:
    policy = scheduled_policy(
        action(name="morning", cron="0 8 * * *", min_capacity=6, max_capacity=8),
        action(name="evening", cron="0 20 * * *", min_capacity=1, max_capacity=2),
    )

    result = scheduled.propose(policy, now)

    assert (result.floor, result.ceiling) == (floor, ceiling)
    for name in names:
        assert f"action '{name}'" in result.detail


@pytest.mark.parametrize(
    ("now", "morning"),
    [
        pytest.param(utc(2024, 3, 29, 7), "2024-03-28 08:00", id="night-sets-max-and-yesterdays-min-stays"),
        pytest.param(utc(2024, 3, 29, 9), "2024-03-29 08:00", id="morning-sets-min-and-the-night-max-stays"),
        pytest.param(utc(2024, 3, 29, 19), "2024-03-29 08:00", id="all-day"),
    ],
)
def test_given_actions_naming_different_fields_when_proposing_then_each_keeps_the_fields_it_set(
    now: datetime, morning: str
) -> None:
    # AWS scheduled actions change only the fields they set: a later action naming only the minimum
    # leaves the maximum of an earlier one in force.
    policy = scheduled_policy(
        action(name="night", cron="0 0 * * *", max_capacity=4),
        action(name="morning", cron="0 8 * * *", min_capacity=2),
    )

    result = scheduled.propose(policy, now)

    assert (result.floor, result.ceiling) == (2, 4)
    assert result.reasons == [R.SCHEDULE_ACTIVE]
    assert "action 'night' (max 4) in force since 2024-03-29 00:00 UTC" in result.detail
    assert f"action 'morning' (min 2) in force since {morning} UTC" in result.detail


def test_given_a_later_action_with_a_duration_when_it_ends_then_the_fields_it_set_are_lifted() -> None:
    policy = scheduled_policy(
        action(name="night", cron="0 0 * * *", max_capacity=4),
        action(name="launch", cron="0 8 * * *", min_capacity=3, max_capacity=9, duration_minutes=60),
    )

    during = scheduled.propose(policy, utc(2024, 3, 29, 8, 30))
    after = scheduled.propose(policy, utc(2024, 3, 29, 9, 30))

    assert (during.floor, during.ceiling) == (3, 9)
    # The launch replaced the night's max and then ended: its fields are lifted, the night's max is not back.
    assert (after.floor, after.ceiling, after.reasons) == (None, None, [R.SCHEDULE_INACTIVE])


def test_given_no_duration_when_days_pass_then_the_bound_is_never_reverted() -> None:
    policy = scheduled_policy(action(name="weekend", cron="0 18 * * FRI", max_capacity=2))

    result = scheduled.propose(policy, utc(2024, 4, 1, 10))  # the Monday after

    assert result.ceiling == 2
    assert result.reasons == [R.SCHEDULE_ACTIVE]


@pytest.mark.parametrize(
    ("duration", "now", "reasons", "floor"),
    [
        pytest.param(
            None, utc(2024, 3, 29, 12), [R.SCHEDULE_ACTIVE, R.SCHEDULE_EXCLUDED_DATE], 10, id="keeps-yesterday"
        ),
        pytest.param(
            600, utc(2024, 3, 29, 12), [R.SCHEDULE_INACTIVE, R.SCHEDULE_EXCLUDED_DATE], None, id="holiday-off"
        ),
        pytest.param(600, utc(2024, 3, 29, 7), [R.SCHEDULE_INACTIVE], None, id="before-the-excluded-firing"),
        pytest.param(600, utc(2024, 3, 30, 9), [R.SCHEDULE_ACTIVE], 10, id="day-after-normal"),
    ],
)
def test_given_an_excluded_date_when_proposing_then_its_firing_is_skipped(
    duration: int | None, now: datetime, reasons: list[ReasonCode], floor: int | None
) -> None:
    policy = scheduled_policy(
        action(cron="0 8 * * *", min_capacity=10, duration_minutes=duration, exclude_dates=[date(2024, 3, 29)])
    )

    result = scheduled.propose(policy, now)

    assert (result.reasons, result.floor) == (reasons, floor)
    if R.SCHEDULE_EXCLUDED_DATE in reasons:
        assert "excluded date 2024-03-29 skipped" in result.detail


def test_given_a_holiday_for_the_morning_action_when_proposing_then_last_evening_stays_and_says_why() -> None:
    policy = scheduled_policy(
        action(name="morning", cron="0 8 * * *", min_capacity=6, exclude_dates=[date(2024, 3, 29)]),
        action(name="evening", cron="0 20 * * *", min_capacity=1, max_capacity=2),
    )

    result = scheduled.propose(policy, utc(2024, 3, 29, 12))

    assert (result.floor, result.ceiling) == (1, 2)
    assert result.reasons == [R.SCHEDULE_ACTIVE, R.SCHEDULE_EXCLUDED_DATE]


def test_given_exclusion_when_local_date_differs_from_utc_date_then_the_local_date_counts() -> None:
    # 08:00 in Tokyo on 2024-03-29 is 2024-03-28 23:00 UTC.
    policy = scheduled_policy(
        action(cron="0 8 * * *", timezone="Asia/Tokyo", min_capacity=4, exclude_dates=[date(2024, 3, 29)])
    )

    result = scheduled.propose(policy, utc(2024, 3, 29, 0))

    assert "since 2024-03-28 08:00 Asia/Tokyo" in result.detail
    assert R.SCHEDULE_EXCLUDED_DATE in result.reasons


@pytest.mark.parametrize(
    ("cron", "reasons"),
    [
        pytest.param("0 0 1 * *", [R.SCHEDULE_ACTIVE], id="monthly-always-within-lookback"),
        pytest.param("0 0 1 1 *", [R.SCHEDULE_INACTIVE], id="yearly-beyond-lookback"),
    ],
)
def test_given_rare_crons_when_proposing_then_lookback_is_35_days(cron: str, reasons: list[ReasonCode]) -> None:
    result = scheduled.propose(scheduled_policy(action(cron=cron, min_capacity=3)), utc(2024, 3, 29, 12))

    assert result.reasons == reasons


def test_given_every_minute_cron_and_a_month_of_exclusions_when_proposing_then_work_is_bounded() -> None:
    today = date(2024, 3, 29)
    excluded = [today - timedelta(days=d) for d in range(40)]
    policy = scheduled_policy(action(cron="* * * * *", min_capacity=3, exclude_dates=excluded))

    started = time.perf_counter()
    result = scheduled.propose(policy, utc(2024, 3, 29, 12))
    elapsed = time.perf_counter() - started

    assert result.reasons == [R.SCHEDULE_INACTIVE, R.SCHEDULE_EXCLUDED_DATE]
    assert elapsed < 2.0  # a day at a time (about 36 restarts), not 50,000 firings
