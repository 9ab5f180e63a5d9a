"""The Kubernetes HorizontalPodAutoscaler v2 with its defaults (pkg/controller/podautoscaler).

- Recommendation ``ceil(ready * utilization / target)``: pods not ready count as using nothing,
  so booting units are not counted twice; nothing changes while |utilization / target - 1| <= 0.1
  (tolerance).
- Scale-down stabilisation: the highest recommendation of the last 300 s.
- Scale-up limit: max(100 %, 4 pods) per 15 s period. Metrics here are 1-minute, so one minute
  holds four 15 s syncs and the limit compounds four times.
- No metric (no pod ready): no change.
"""

from __future__ import annotations

import math
from collections import deque

from chalicelib.backtest.policies.base import Decision, Observation
from chalicelib.backtest.world import World

TOLERANCE = 0.1
DOWNSCALE_STABILIZATION_MIN = 5  # 300 s
SYNCS_PER_MINUTE = 4  # --horizontal-pod-autoscaler-sync-period 15 s
SCALE_UP_PODS = 4
SCALE_UP_FACTOR = 2  # 100 %
CEIL_EPSILON = 1e-9


class Hpa:
    def __init__(self, world: World) -> None:
        self._world = world
        self._recommendations: deque[int] = deque(maxlen=DOWNSCALE_STABILIZATION_MIN + 1)

    def decide(self, minute: int, last: Observation | None, ready: int, desired: int) -> Decision:
        utilization = last.utilization if last is not None else None
        target = self._world.target_utilization
        if utilization is None or abs(utilization / target - 1) <= TOLERANCE:
            recommendation = desired
        else:
            recommendation = self._world.clamp(math.ceil(ready * utilization / target - CEIL_EPSILON))
        self._recommendations.append(recommendation)
        if recommendation > desired:
            limited = min(recommendation, scale_up_limit(desired))
            return Decision(limited, f"utilization {utilization:.0f} % vs target {target:g} %: {recommendation} pods")
        stabilized = min(desired, max(self._recommendations))
        if stabilized < desired:
            return Decision(stabilized, f"highest recommendation of the last 300 s is {stabilized}")
        return Decision(desired)


def scale_up_limit(current: int) -> int:
    """The most pods one minute of 15 s syncs may reach from ``current``."""
    limit = current
    for _ in range(SYNCS_PER_MINUTE):
        limit = max(limit * SCALE_UP_FACTOR, limit + SCALE_UP_PODS)
    return limit
