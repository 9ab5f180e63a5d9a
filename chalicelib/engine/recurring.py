"""Bursts that recur at the same minute of every hour (cron jobs, batch imports, hourly reports).

The predictive policy holds the busiest period of its peak window (an hour), so a 3-minute burst
at the top of every hour would keep burst capacity all hour long. A burst that stood out at the
same minute of the hour in each of several hours in a row is not noise that can strike at any
moment: it is a schedule, learnt from the history the policy already reads. Such minutes are left
out of the recent peak and the level, and their load is provisioned only when they come round
again, from the provisioning lead before them until they have passed.

That load is handed to the normaliser as a floor, the way AWS predictive scaling raises the
minimum capacity instead of the dynamic policy's target: the stabilisation window damps noise in
proposals and would otherwise hold burst capacity for its whole length after every burst.

Confidence: a minute recurs only when, in each of ``RECURRING_HOURS`` hours in a row (the last
one included, a drift of one period allowed), it stood out above its hour's mean at the target
utilization and above everything else that hour held, on a complete history (one datapoint per
period), and only when the last hour's busiest period is such a minute. Otherwise nothing
changes: the peak is held as before, and a gap in the data never releases capacity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import compress, pairwise

HOUR_S = 3600
# Hours in a row, the last one included, in which a minute must have stood out. Four makes a
# coincidence of noise negligible (a spike at the same minute, give or take one, four times).
RECURRING_HOURS = 4
# A job started by cron drifts by a few seconds to a minute: one period either way still matches.
DRIFT_PERIODS = 1


@dataclass(frozen=True)
class Bursts:
    """What the hourly recurrence changes in one evaluation."""

    phases: frozenset[int]  # recurring periods, as indexes 0..n-1 in the hour before ``end``
    level: float  # mean load of the level window outside recurring phases
    peak: float  # busiest period of the peak window outside recurring phases (0.0 if none)
    due: float  # load expected from the recurring burst due within the lead (0.0 if none is due)
    end: datetime  # end of the newest complete period: the hour of ``phases`` is the one before it
    period_s: int

    def minutes_of_hour(self) -> list[int]:
        """Clock minutes (UTC) of the recurring periods, for the explanation."""
        # An hour before ``end`` has the same minute as ``end``; periods are whole minutes.
        return sorted({(self.end.minute + i * self.period_s // 60) % 60 for i in self.phases})


def recurring_bursts(
    values: Callable[[datetime, datetime], list[float]],
    end: datetime,
    *,
    period_s: int,
    peak_window_s: int,
    level_window_s: int,
    ahead_s: int,
    level: float,
    utilization: float,
) -> Bursts | None:
    """Recurring bursts in the periods before ``end`` (the end of the newest complete period).

    ``values(start, stop)`` gives the values of the periods starting in [start, stop); ``level``
    is the current mean load of the level window. None when nothing recurs or the history is not
    complete enough to tell.
    """
    if HOUR_S % period_s or peak_window_s % period_s or level_window_s % period_s:
        return None
    n = HOUR_S // period_s
    span_s = max(RECURRING_HOURS * HOUR_S, peak_window_s, level_window_s)
    series = values(end - timedelta(seconds=span_s), end)
    if len(series) != span_s // period_s:
        return None  # a gap: phases cannot be told apart, so nothing is discounted
    hours = series[-RECURRING_HOURS * n :]
    last = (RECURRING_HOURS - 1) * n
    # Only a period above the level at target can set the peak, so only those are candidates
    # (found in C: this runs every minute a peak binds).
    last_hour = hours[last:]
    bar = max(level, sum(last_hour) / n) / utilization
    busiest = max(last_hour)
    # In every hour a recurring phase must top the hour's mean at target (the cheap test, on the
    # busiest period first) and everything else the hour held away from every candidate: noise
    # tops the rest at the same minute four hours in a row about once in (n / 3)^3 hours.
    if busiest <= bar or not _busiest_recurs(hours, last_hour.index(busiest), n, utilization):
        return None  # the hour's peak is not a recurring burst: discounting others changes nothing
    means = [sum(hours[j * n : (j + 1) * n]) / n / utilization for j in range(RECURRING_HOURS - 1)]
    candidates = list(compress(range(n), map(bar.__lt__, last_hour)))
    near = sorted({(c + d) % n for c in candidates for d in range(-DRIFT_PERIODS, DRIFT_PERIODS + 1)})
    gaps = [(low + 1, high) for low, high in pairwise([-1, *near, n]) if high > low + 1]
    bars = [*means, bar]
    for j in range(RECURRING_HOURS):
        rest = max((max(hours[j * n + low : j * n + high]) for low, high in gaps), default=0.0)
        bars[j] = max(bars[j], rest)
    phases = frozenset(i for i in candidates if _recurs(hours, i, n, bars))
    if not phases:
        return None
    return Bursts(
        phases=phases,
        level=_mean_outside(series[-(level_window_s // period_s) :], phases, n),
        peak=_max_outside(series[-(peak_window_s // period_s) :], phases, n),
        due=_due(hours, phases, n, math.ceil(ahead_s / period_s)),
        end=end,
        period_s=period_s,
    )


def _busiest_recurs(hours: list[float], phase: int, n: int, utilization: float) -> bool:
    """The cheap test on the busiest period, newest hour first, each hour's mean read only if needed."""
    for j in range(RECURRING_HOURS - 2, -1, -1):
        index = j * n + phase
        bar = sum(hours[j * n : (j + 1) * n]) / n / utilization
        if max(hours[max(0, index - DRIFT_PERIODS) : index + DRIFT_PERIODS + 1]) <= bar:
            return False
    return True


def _recurs(hours: list[float], phase: int, n: int, bars: list[float]) -> bool:
    """Whether ``phase`` stood out above ``bars[j]`` in each hour j it has a bar for (within the drift)."""
    for j, bar in enumerate(bars):
        index = j * n + phase
        if max(hours[max(0, index - DRIFT_PERIODS) : index + DRIFT_PERIODS + 1]) <= bar:
            return False
    return True


def _recurring_positions(size: int, phases: Set[int], n: int) -> list[int]:
    """Positions in a window of ``size`` periods ending at ``end`` whose phase recurs, ascending."""
    # The period at position p started (size - p) periods before ``end``: phase (p - size) mod n.
    if size <= n:  # the usual windows, an hour or less: one position per phase at most
        return sorted(p for i in phases if (p := i - n + size) >= 0)
    return sorted(p for i in phases for p in range((i + size) % n, size, n))


def _mean_outside(window: list[float], phases: Set[int], n: int) -> float:
    recurring = _recurring_positions(len(window), phases, n)
    kept = len(window) - len(recurring)
    return (sum(window) - sum(window[p] for p in recurring)) / kept if kept else 0.0


def _max_outside(window: list[float], phases: Set[int], n: int) -> float:
    """The busiest period of ``window`` outside recurring phases (0.0 if none): slices between them."""
    edges = [-1, *_recurring_positions(len(window), phases, n), len(window)]
    return max((max(window[low + 1 : high]) for low, high in pairwise(edges) if high > low + 1), default=0.0)


def _due(hours: list[float], phases: frozenset[int], n: int, ahead: int) -> float:
    """The largest load the recurring burst due within ``ahead`` periods showed so far.

    A burst is a run of consecutive recurring phases; it is due when one of its phases comes
    round within ``ahead``, and then the whole run is sized for at once, so that capacity holds
    steady from the lead before it until it has passed: the largest value of its periods in the
    ``RECURRING_HOURS - 1`` instances before this one, and in this one as far as it has come (a
    burst larger than the last ones still raises the floor, one period late, as a surge would).
    """
    due = [i for i in phases if i < ahead]
    if not due:
        return 0.0
    # Offsets from ``end``: >= 0 still to come in this instance, < 0 already seen in it.
    offsets = set(due)
    for first in due:
        for step in (1, -1):
            offset = first + step
            while -n < offset < n and offset % n in phases and offset not in offsets:
                offsets.add(offset)
                offset += step
    coming = [hours[j * n + o] for o in offsets if o >= 0 for j in range(1, RECURRING_HOURS)]
    seen = [hours[j * n + n + o] for o in offsets if o < 0 for j in range(RECURRING_HOURS)]
    return max(coming + seen)
