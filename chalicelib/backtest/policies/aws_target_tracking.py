"""AWS target tracking on average utilization, as documented (docs/aws-semantics.md, "Target tracking").

- Scale-out alarm: the last 3 one-minute datapoints above the target. While it stays in ALARM,
  CloudWatch re-invokes the action every minute. New capacity ``ceil(serving * latest / target)``
  (proportional, rounded up), where ``serving`` is the units the latest datapoint was averaged
  over: warming units feed no metric, so a unit that came into service after the datapoint's
  minute is not in it, and multiplying by the units serving *now* would count the load twice
  (5 at 140 % need 10; once the 5 new ones serve, the same datapoint would ask for 20). Units still
  warming count toward desired capacity, so only what exceeds the current desired capacity is added.
- Scale-in alarm: the last 15 datapoints below 0.9 x target. New capacity
  ``ceil(serving * latest / target)`` (removing 1.5 units removes 1). No scale-in while units warm
  up, nor within the 300 s scale-in cooldown after the previous scale-in.
- No datapoint (no unit serving): INSUFFICIENT_DATA, which never scales in.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

from chalicelib.backtest.policies.base import Decision, Observation
from chalicelib.backtest.world import World

SCALE_OUT_DATAPOINTS = 3
SCALE_IN_DATAPOINTS = 15
SCALE_IN_MARGIN = 0.10
SCALE_IN_COOLDOWN_MIN = 5  # 300 s
CEIL_EPSILON = 1e-9


class AwsTargetTracking:
    def __init__(self, world: World) -> None:
        self._world = world
        self._target = world.target_utilization
        self._window: deque[float | None] = deque(maxlen=SCALE_IN_DATAPOINTS)
        self._last_scale_in: int | None = None

    def decide(self, minute: int, last: Observation | None, ready: int, desired: int) -> Decision:
        if last is not None:
            self._window.append(last.utilization)
        latest = self._window[-1] if self._window else None
        if latest is None or last is None:
            return Decision(desired)
        # The units behind the datapoint (last.ready), not those serving now (module docstring).
        needed = self._world.clamp(math.ceil(last.ready * latest / self._target - CEIL_EPSILON))
        if self._breaching(SCALE_OUT_DATAPOINTS, lambda u: u > self._target) and needed > desired:
            return Decision(needed, f"scale-out alarm: utilization {latest:.0f} % > {self._target:g} % for 3 min")
        if needed < desired and self._may_scale_in(minute, ready, desired):
            self._last_scale_in = minute
            threshold = (1 - SCALE_IN_MARGIN) * self._target
            return Decision(needed, f"scale-in alarm: utilization {latest:.0f} % < {threshold:g} % for 15 min")
        return Decision(desired)

    def _may_scale_in(self, minute: int, ready: int, desired: int) -> bool:
        threshold = (1 - SCALE_IN_MARGIN) * self._target
        if not self._breaching(SCALE_IN_DATAPOINTS, lambda u: u < threshold):
            return False
        if ready < desired:  # units warming up
            return False
        return self._last_scale_in is None or minute - self._last_scale_in >= SCALE_IN_COOLDOWN_MIN

    def _breaching(self, datapoints: int, condition: Callable[[float], bool]) -> bool:
        """The alarm's state: every one of the last ``datapoints`` present and breaching."""
        window = list(self._window)[-datapoints:]
        return len(window) == datapoints and all(u is not None and condition(u) for u in window)
