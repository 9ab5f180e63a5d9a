"""The targets behind the ``marea`` and ``scheduled`` policy names, for a given world."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from chalicelib.backtest.trace import MINUTE_S
from chalicelib.backtest.world import World
from chalicelib.models.targets import (
    CustomMetric,
    PredictivePolicy,
    ScheduledAction,
    ScheduledPolicy,
    Statistic,
    TargetBase,
)

BACKTEST_TARGET_ID = "backtest"
# Marea's default operating point (docs/backtesting.md, "The default"): the load that covered 60 %
# of the last two hours' stretches of the lead, and the stretch under way, at 100 %. Holding the
# busiest minute of the last hour instead spent 1.27x AWS target tracking's unit-hours on the noisy
# NAB trace; this spends 0.97-0.98x with 0.33-0.46x its short minutes (bench/backtest.py).
MAREA_PEAK_WINDOW_S = 7200
MAREA_PEAK_QUANTILE = 0.6
# Scale in to the highest recommendation of the last 20 minutes: the predictive policy already
# re-sizes every minute, so this is what keeps a noisy load from turning into a scaling action a minute.
MAREA_STABILIZATION_S = 1200
REQUEST_COUNT = CustomMetric(namespace="Marea/Backtest", metric_name="RequestCount", statistic=Statistic.SUM)
# An operator's hourly schedule written from the first week of traffic: every hour gets the
# units its busiest minute needed at the target utilization, weekdays and weekends apart.
SCHEDULE_LEARNING_DAYS = 7
_DAY_TYPES = (("weekdays", "MON-FRI", range(5)), ("weekends", "SAT,SUN", range(5, 7)))


def marea_target(world: World) -> TargetBase:
    """Marea's default policy: predictive, with its reactive floors (engine/predictive.py)."""
    policy = PredictivePolicy(
        name="marea",
        metric=REQUEST_COUNT,
        unit_capacity=world.unit_capacity,
        target_utilization=world.target_utilization,
        lead_s=world.delay_min * 60,
        peak_window_s=MAREA_PEAK_WINDOW_S,
        peak_quantile=MAREA_PEAK_QUANTILE,
        surge_window_s=world.delay_min * 60 + 60,  # the stretch under way: lead_s and one period
        timezone=_zone_name(world),
    )
    return _target(world, [policy], MAREA_STABILIZATION_S)


def scheduled_target(world: World, schedule: ScheduledPolicy) -> TargetBase:
    return _target(world, [schedule], 0)


def schedule_from_history(
    demand: Sequence[float], world: World, days: int = SCHEDULE_LEARNING_DAYS, step_s: int = MINUTE_S
) -> ScheduledPolicy:
    """Hourly capacities from the first ``days`` of ``demand`` (requests per step of ``step_s``), as an
    operator would write them.

    Consecutive hours with the same capacity share one action. Only the first ``days`` are read,
    so replaying this schedule is causal from day ``days`` on (hindsight before).
    """
    steps_per_hour = 3600 // step_s
    peaks = _hourly_peaks(demand[: days * 24 * steps_per_hour], world, steps_per_hour)
    actions: list[ScheduledAction] = []
    for day_type, cron_days, weekdays in _DAY_TYPES:
        hourly = [max((peaks.get((d, h), 0.0) for d in weekdays), default=0.0) for h in range(24)]
        previous: int | None = None
        for hour, peak in enumerate(hourly):
            units = world.ideal_units(peak, step_s)
            if units != previous:
                actions.append(
                    ScheduledAction(
                        name=f"{day_type}-{hour:02d}h",
                        cron=f"0 {hour} * * {cron_days}",
                        timezone=_zone_name(world),
                        min_capacity=units,
                        max_capacity=units,
                    )
                )
                previous = units
    return ScheduledPolicy(name="scheduled", actions=actions)


def _hourly_peaks(demand: Sequence[float], world: World, steps_per_hour: int) -> dict[tuple[int, int], float]:
    """Busiest step per (weekday, hour) of the wall clock of ``world.start``."""
    peaks: dict[tuple[int, int], float] = {}
    for hour_index in range(math.ceil(len(demand) / steps_per_hour)):
        at = (world.start + timedelta(hours=hour_index)).astimezone(ZoneInfo(_zone_name(world)))
        key = (at.weekday(), at.hour)
        hour = demand[hour_index * steps_per_hour : (hour_index + 1) * steps_per_hour]
        peaks[key] = max(peaks.get(key, 0.0), max(hour))
    return peaks


def _zone_name(world: World) -> str:
    """The IANA zone of ``world.start``; a fixed offset has none, and then clocks are read in UTC."""
    zone = world.start.tzinfo
    return zone.key if isinstance(zone, ZoneInfo) else "UTC"


def _target(world: World, policies: list[PredictivePolicy] | list[ScheduledPolicy], stabilization_s: int) -> TargetBase:
    return TargetBase(
        id=BACKTEST_TARGET_ID,
        min=world.min_units,
        max=world.max_units,
        policies=list(policies),
        scale_in_stabilization_s=stabilization_s,
        description="replayed by marea backtest",
    )
