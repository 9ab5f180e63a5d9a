"""What a replayed policy sees and the one method it implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Observation:
    """The metrics of one finished step (a minute unless the trace is finer), as a monitoring system reports them."""

    step: int
    demand: float  # requests in that step
    ready: int  # units that served it
    desired: int  # units desired (booting + serving) during it
    utilization: float | None  # percent of the ready units' capacity; None when none served


@dataclass(frozen=True)
class Decision:
    desired: int
    note: str = ""  # why, when the policy changed something (OUT.csv keeps it)


class Controller(Protocol):
    """A policy under replay. Causal by construction: it is only ever given the past."""

    def decide(self, step: int, last: Observation | None, ready: int, desired: int) -> Decision:
        """Desired units at the start of ``step``; ``last`` is step - 1 (None at step 0).

        ``ready`` and ``desired`` are the fleet's counts now, after units due at ``step`` started.
        """
        ...
