"""Small synthetic traces for backtest tests: deterministic, a few days long at most."""

from __future__ import annotations

import math
import random

from chalicelib.backtest.trace import Trace, trace_from_rates

DAY_MIN = 1440


def daily_trace(days: float = 2.5, seed: int = 7, base: float = 60.0) -> Trace:
    """A daily cycle (low at night, high by day) with noise and one flash crowd on day 2."""
    rng = random.Random(seed)
    demand = []
    for minute in range(int(days * DAY_MIN)):
        hour = (minute % DAY_MIN) / 60
        level = base * (1 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24))
        if DAY_MIN + 600 <= minute < DAY_MIN + 660:
            level *= 4
        demand.append(max(0.0, rng.gauss(level, math.sqrt(level))))
    return trace_from_rates("daily", demand)


def step_trace(low: float, high: float, step_at: int, minutes: int) -> Trace:
    return trace_from_rates("step", [low if m < step_at else high for m in range(minutes)])
