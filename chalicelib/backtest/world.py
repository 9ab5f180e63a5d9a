"""The world a backtest replays: units, their provisioning delay and what a policy may see.

The contract (also in docs/backtesting.md):

- a unit (instance, task or node) serves ``unit_capacity`` requests per minute at 100 % utilization;
- at the start of minute t the policy sees only metrics of minutes before t: utilization
  ``u = 100 * demand / (ready * unit_capacity)``, request count, ready and desired units;
- a scale-out ordered at minute t serves from minute t + D (D = 2 fargate, 4 ec2, 6 kops); a
  scale-in takes effect at t, cancelling booting units first (the most recently ordered first);
- a minute is under-provisioned when demand > ready * unit_capacity; cost is the desired
  (booting + serving) units summed over minutes;
- the run starts with the units the first minute needs at the target utilization, all ready.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

Kind = Literal["ec2", "fargate", "kops"]
# Minutes from ordering a unit to its first served minute: a Fargate task starts in about a
# minute or two, an EC2 instance boots and passes health checks in about four, a kops node
# also has to join the cluster before pods land on it.
PROVISIONING_DELAY_MIN: dict[Kind, int] = {"fargate": 2, "ec2": 4, "kops": 6}
KINDS: tuple[Kind, ...] = ("ec2", "fargate", "kops")
# Minute 0 of a trace, unless told otherwise: a Monday, so "weekday" means the same in every run.
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
MAX_UNITS_LIMIT = 100_000  # the engine's own ceiling (models/targets.py MAX_CAPACITY_LIMIT)


@dataclass(frozen=True)
class World:
    kind: Kind
    unit_capacity: float  # requests per minute one unit serves at 100 %
    target_utilization: float = 70.0  # percent
    min_units: int = 1
    max_units: int = 10_000
    start: datetime = DEFAULT_START  # wall-clock time of minute 0 (schedules and seasonality read it)

    def __post_init__(self) -> None:
        if self.kind not in PROVISIONING_DELAY_MIN:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if not (self.unit_capacity > 0 and math.isfinite(self.unit_capacity)):
            raise ValueError("unit_capacity must be a positive number")
        if not 0 < self.target_utilization <= 100:
            raise ValueError("target_utilization must be in (0, 100]")
        if not 0 <= self.min_units <= self.max_units <= MAX_UNITS_LIMIT:
            raise ValueError(f"need 0 <= min_units <= max_units <= {MAX_UNITS_LIMIT}")
        if self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")

    @property
    def delay_min(self) -> int:
        return PROVISIONING_DELAY_MIN[self.kind]

    def clamp(self, units: int) -> int:
        return min(max(units, self.min_units), self.max_units)

    def ideal_units(self, demand: float) -> int:
        """Units the demand needs at the target utilization, within [min, max]."""
        return self.clamp(math.ceil(demand / (self.unit_capacity * self.target_utilization / 100) - 1e-9))

    def utilization(self, demand: float, ready: int) -> float | None:
        """Percent, uncapped (> 100 means under-provisioned); None when no unit serves."""
        return 100.0 * demand / (ready * self.unit_capacity) if ready else None


@dataclass
class Fleet:
    """Units of one target: ready ones serve now, booting ones from their ready minute."""

    ready: int
    booting: deque[list[int]] = field(default_factory=deque)  # [ready_at_minute, count], oldest order first

    @property
    def desired(self) -> int:
        return self.ready + sum(count for _, count in self.booting)

    def advance(self, minute: int) -> None:
        """Units whose delay has passed start serving at ``minute``."""
        while self.booting and self.booting[0][0] <= minute:
            self.ready += self.booting.popleft()[1]

    def order(self, desired: int, minute: int, delay_min: int) -> None:
        """Scale to ``desired`` at ``minute``: new units boot for ``delay_min``; removals are immediate."""
        change = desired - self.desired
        if change > 0:
            self.booting.append([minute + delay_min, change])
            return
        remove = -change
        while remove and self.booting:
            newest = self.booting[-1]
            cancelled = min(remove, newest[1])
            newest[1] -= cancelled
            remove -= cancelled
            if not newest[1]:
                self.booting.pop()
        self.ready -= remove
