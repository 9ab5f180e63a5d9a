"""A request trace in memory: the demand of each minute, minute 0 first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


class TraceError(ValueError):
    """Demand that is not a trace: negative, infinite or NaN requests (or a malformed trace file)."""


@dataclass(frozen=True)
class Trace:
    """Demand per minute (requests in that minute), minute 0 first, and minute 0's time when known."""

    name: str
    demand: tuple[float, ...]
    start: datetime | None = None  # timezone-aware; None when the source gave minutes, not times

    def __post_init__(self) -> None:
        if self.start is not None and self.start.utcoffset() is None:
            raise TraceError(f"{self.name}: start must be timezone-aware")

    def __len__(self) -> int:
        return len(self.demand)

    def head(self, minutes: int) -> Trace:
        """The first ``minutes`` minutes (what a backtest stopped early would have seen)."""
        return Trace(name=self.name, demand=self.demand[:minutes], start=self.start)

    @property
    def mean(self) -> float:
        return math.fsum(self.demand) / len(self.demand) if self.demand else 0.0


def trace_from_rates(name: str, demand: Sequence[float], start: datetime | None = None) -> Trace:
    """A trace from per-minute demand already in memory (e.g. CloudWatch datapoints)."""
    if any(not math.isfinite(d) or d < 0 for d in demand):
        raise TraceError(f"{name}: demand must be finite and >= 0")
    return Trace(name=name, demand=tuple(float(d) for d in demand), start=start)
