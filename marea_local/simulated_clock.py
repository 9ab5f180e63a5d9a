"""The demo's clock: simulated minutes that pass faster than real ones.

The demo replays past minutes of a trace; Marea's evaluations must read that simulated time, not the
wall clock, or every datapoint of the replay would look stale. Within a simulated minute the clock
still moves (scaled from the wall clock), so evaluations keep the order they ran in.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

# How far the clock may run past a minute's mark before the next mark: it never reaches the next minute.
MAX_DRIFT = timedelta(seconds=29)


class SimulatedClock:
    def __init__(self, start: datetime, seconds_per_minute: float, monotonic: Callable[[], float] = time.monotonic):
        self._monotonic = monotonic
        self._scale = 60 / seconds_per_minute if seconds_per_minute > 0 else float("inf")
        self._mark = start
        self._marked_at = monotonic()

    def mark(self, at: datetime, seconds_per_minute: float | None = None) -> None:
        """The simulated time is ``at`` now (and, optionally, runs at a new pace from here)."""
        if seconds_per_minute is not None:
            self._scale = 60 / seconds_per_minute if seconds_per_minute > 0 else float("inf")
        self._mark, self._marked_at = at, self._monotonic()

    def now(self) -> datetime:
        elapsed = self._monotonic() - self._marked_at
        if elapsed <= 0:
            return self._mark
        seconds = min(MAX_DRIFT.total_seconds(), elapsed * self._scale)  # inf (no pause per minute) -> the cap
        return self._mark + timedelta(seconds=seconds)
