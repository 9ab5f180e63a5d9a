"""A request trace in memory: the demand of each step (a minute unless said), step 0 first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

# Steps a replay takes: a minute, or a CloudWatch high-resolution period (alarm periods 10, 20, 30 s) that
# divides it, so a minute-based policy or baseline reads whole minutes of steps.
STEPS_S = (10, 20, 30, 60)
MINUTE_S = 60


def step_hint(period_s: int) -> str:
    """The ``--step`` that replays a period: the longest step that divides it."""
    fits = [step for step in STEPS_S if period_s % step == 0]
    return f" (replay in steps of {max(fits)} s: marea backtest --step {max(fits)})" if fits else ""


class TraceError(ValueError):
    """Demand that is not a trace: negative, infinite or NaN requests (or a malformed trace file)."""


@dataclass(frozen=True)
class Trace:
    """Demand per step (requests in that step; a step is ``step_s`` seconds, a minute by default), step 0
    first, and step 0's time when known."""

    name: str
    demand: tuple[float, ...]
    start: datetime | None = None  # timezone-aware; None when the source gave minutes, not times
    step_s: int = MINUTE_S

    def __post_init__(self) -> None:
        if self.start is not None and self.start.utcoffset() is None:
            raise TraceError(f"{self.name}: start must be timezone-aware")
        if self.step_s not in STEPS_S:
            raise TraceError(f"{self.name}: a step is one of {', '.join(map(str, STEPS_S))} s, not {self.step_s}")

    @property
    def steps_per_minute(self) -> int:
        return MINUTE_S // self.step_s

    @property
    def minutes(self) -> float:
        return len(self.demand) / self.steps_per_minute

    def __len__(self) -> int:
        return len(self.demand)

    def head(self, steps: int) -> Trace:
        """The first ``steps`` steps (what a backtest stopped early would have seen)."""
        return Trace(name=self.name, demand=self.demand[:steps], start=self.start, step_s=self.step_s)

    def at_step(self, step_s: int) -> Trace:
        """This minute trace at a finer step, each minute's requests spread evenly over its steps (a minute
        trace holds nothing finer: a replay at 10 s sees the minute's load, not its seconds)."""
        if self.step_s != MINUTE_S:
            raise TraceError(
                f"{self.name}: only a minute trace is spread to a finer step (this one is {self.step_s} s)"
            )
        spread = Trace(name=self.name, demand=(), start=self.start, step_s=step_s)  # checks step_s
        share = 1 / spread.steps_per_minute
        demand = tuple(requests * share for requests in self.demand for _ in range(spread.steps_per_minute))
        return Trace(name=self.name, demand=demand, start=self.start, step_s=step_s)

    @property
    def mean(self) -> float:
        return math.fsum(self.demand) / len(self.demand) if self.demand else 0.0


def trace_from_rates(
    name: str, demand: Sequence[float], start: datetime | None = None, step_s: int = MINUTE_S
) -> Trace:
    """A trace from per-step demand already in memory (e.g. CloudWatch datapoints; a minute per step by default)."""
    if any(not math.isfinite(d) or d < 0 for d in demand):
        raise TraceError(f"{name}: demand must be finite and >= 0")
    return Trace(name=name, demand=tuple(float(d) for d in demand), start=start, step_s=step_s)
