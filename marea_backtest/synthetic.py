"""Seeded synthetic traffic shapes, to check a policy on loads the real traces do not have.

Each is four weeks of per-minute requests (Poisson around a known rate), starting on a Monday.
They test generality, not the bar: a policy tuned to three real traces should still behave here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from marea_backtest.trace import Trace, trace_from_rates

DAY_MIN = 1440
WEEKS = 4


def _poisson(rng: random.Random, rate: float) -> float:
    if rate <= 0:
        return 0.0
    if rate > 50:  # the normal approximation is exact enough and keeps generation fast
        return max(0.0, round(rng.gauss(rate, math.sqrt(rate))))
    limit, count, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return float(count)


def _daily(minute: int, low: float, high: float) -> float:
    """A smooth day: lowest at 03:00, highest at 15:00."""
    hour = (minute % DAY_MIN) / 60
    return low + (high - low) * (1 - math.cos(2 * math.pi * (hour - 3) / 24)) / 2


def business_hours(minute: int, rng: random.Random) -> float:
    """Weekdays 09:00-17:00 at five times the night rate; weekends at the night rate."""
    day, hour = divmod(minute, DAY_MIN)
    return 1000.0 if day % 7 < 5 and 9 * 60 <= hour < 17 * 60 else 200.0


def hourly_batch(minute: int, rng: random.Random) -> float:
    """A daily cycle with a 3-minute burst at four times the rate at the top of every hour."""
    return _daily(minute, 15, 70) * (4 if minute % 60 < 3 else 1)


class FlashCrowds:
    """A daily cycle with unannounced surges (3-8x for 30-120 minutes, about one a day)."""

    def __init__(self) -> None:
        self._until = -1
        self._factor = 1.0

    def __call__(self, minute: int, rng: random.Random) -> float:
        if minute > self._until and rng.random() < 1 / DAY_MIN:
            self._until, self._factor = minute + rng.randint(30, 120), rng.uniform(3, 8)
        return _daily(minute, 20, 90) * (self._factor if minute <= self._until else 1.0)


def smooth_weekly(minute: int, rng: random.Random) -> float:
    """High volume (little noise), a daily cycle, weekends at 60 %."""
    weekend = (minute // DAY_MIN) % 7 >= 5
    return _daily(minute, 500, 3500) * (0.6 if weekend else 1.0)


def growing(minute: int, rng: random.Random) -> float:
    """A daily cycle whose volume doubles over the four weeks."""
    return _daily(minute, 20, 100) * (1 + minute / (WEEKS * 7 * DAY_MIN))


SHAPES: dict[str, Callable[[], Callable[[int, random.Random], float]]] = {
    "synthetic-business-hours": lambda: business_hours,
    "synthetic-hourly-batch": lambda: hourly_batch,
    "synthetic-flash-crowds": FlashCrowds,
    "synthetic-smooth-weekly": lambda: smooth_weekly,
    "synthetic-growing": lambda: growing,
}


def synthetic_trace(name: str, seed: int = 1) -> Trace:
    rate = SHAPES[name]()
    rng = random.Random(f"{name}-{seed}")  # noqa: S311 - reproducible traffic, not secrets
    return trace_from_rates(name, [_poisson(rng, rate(m, rng)) for m in range(WEEKS * 7 * DAY_MIN)])
