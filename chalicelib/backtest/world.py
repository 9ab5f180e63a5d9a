"""The world a backtest replays: units, their provisioning delay and what a policy may see.

The contract (also in docs/backtesting.md). A replay moves in steps of the trace (a minute unless the
trace is finer: 10, 20 or 30 s):

- a unit (instance, task or node) serves ``unit_capacity`` requests per minute at 100 % utilization
  (``unit_capacity · step / 60`` in a step);
- at the start of step t the policy sees only metrics of steps before t: utilization
  ``u = 100 * demand / (ready * unit_capacity)`` (demand as a rate per minute), request count, ready and
  desired units;
- a scale-out ordered at step t serves from D minutes later (D = 2 fargate, 4 ec2, 6 kops); a scale-in
  takes effect at t, cancelling booting units first (the most recently ordered first);
- a step is under-provisioned when its demand is more than the ready units serve in it
  (``demand · 60 / step > ready · unit_capacity``); cost is the desired (booting + serving) units summed
  over time;
- the run starts with the units the first step needs at the target utilization, all ready.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from chalicelib.backtest.trace import MINUTE_S

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

    def delay_steps(self, step_s: int) -> int:
        """The provisioning delay in steps of ``step_s`` (a divisor of a minute)."""
        return self.delay_min * MINUTE_S // step_s

    def clamp(self, units: int) -> int:
        return min(max(units, self.min_units), self.max_units)

    def ideal_units(self, demand: float, step_s: int = MINUTE_S) -> int:
        """Units the demand of one step needs at the target utilization, within [min, max]."""
        rate = demand * MINUTE_S / step_s
        return self.clamp(math.ceil(rate / (self.unit_capacity * self.target_utilization / 100) - 1e-9))

    def utilization(self, demand: float, ready: int, step_s: int = MINUTE_S) -> float | None:
        """Percent of what ``ready`` units serve in a step, uncapped (> 100 means under-provisioned); None when
        no unit serves."""
        return 100.0 * demand * MINUTE_S / (ready * self.unit_capacity * step_s) if ready else None

    def overloaded(self, demand: float, ready: int, step_s: int = MINUTE_S) -> bool:
        """More requests in the step than the ready units serve in it."""
        return demand * MINUTE_S > ready * self.unit_capacity * step_s


@dataclass
class Fleet:
    """Units of one target: ready ones serve now, booting ones from their ready step."""

    ready: int
    booting: deque[list[int]] = field(default_factory=deque)  # [ready_at_step, count], oldest order first

    @property
    def desired(self) -> int:
        return self.ready + sum(count for _, count in self.booting)

    def advance(self, step: int) -> None:
        """Units whose delay has passed start serving at ``step``."""
        while self.booting and self.booting[0][0] <= step:
            self.ready += self.booting.popleft()[1]

    def order(self, desired: int, step: int, delay_steps: int) -> None:
        """Scale to ``desired`` at ``step``: new units boot for ``delay_steps``; removals are immediate."""
        change = desired - self.desired
        if change > 0:
            self.booting.append([step + delay_steps, change])
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
