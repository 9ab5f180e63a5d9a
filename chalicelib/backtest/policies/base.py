"""What a replayed policy sees and the one method it implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Observation:
    """The metrics of one finished minute, as a monitoring system reports them."""

    minute: int
    demand: float  # requests in that minute
    ready: int  # units that served it
    desired: int  # units desired (booting + serving) during it
    utilization: float | None  # percent of the ready units' capacity; None when none served


@dataclass(frozen=True)
class Decision:
    desired: int
    note: str = ""  # why, when the policy changed something (OUT.csv keeps it)


class Controller(Protocol):
    """A policy under replay. Causal by construction: it is only ever given the past."""

    def decide(self, minute: int, last: Observation | None, ready: int, desired: int) -> Decision:
        """Desired units at the start of ``minute``; ``last`` is minute - 1 (None at minute 0).

        ``ready`` and ``desired`` are the fleet's counts now, after units due at ``minute`` started.
        """
        ...
