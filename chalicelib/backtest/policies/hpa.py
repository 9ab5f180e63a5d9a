"""The Kubernetes HorizontalPodAutoscaler v2 with its defaults (pkg/controller/podautoscaler).

- Recommendation ``ceil(ready * utilization / target)``; nothing changes while
  |utilization / target - 1| <= 0.1 (tolerance). The replica calculator's corrections
  (replica_calculator.go, and kubernetes.io "Horizontal Pod Autoscaling", "Algorithm details"):
  pods ready now that have no metric for the datapoint's minute (they came up after it) count as
  using 0 % on a scale-up and max(100 %, target) of their request on a scale-down; pods not ready
  (booting) count as using 0 % on a scale-up. The ratio is then computed again, and nothing
  changes if it is within tolerance or points the other way. So booting and newly ready pods are
  never counted twice.
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
        if last is None or utilization is None:
            recommendation = desired
        else:
            recommendation = self._world.clamp(replicas(utilization, target, last.ready, ready, desired))
        self._recommendations.append(recommendation)
        if recommendation > desired:
            limited = min(recommendation, scale_up_limit(desired))
            return Decision(limited, f"utilization {utilization:.0f} % vs target {target:g} %: {recommendation} pods")
        stabilized = min(desired, max(self._recommendations))
        if stabilized < desired:
            return Decision(stabilized, f"highest recommendation of the last 300 s is {stabilized}")
        return Decision(desired)


def replicas(utilization: float, target: float, measured: int, ready: int, desired: int) -> int:
    """The replica calculator for a resource utilization: ``measured`` pods served the datapoint,
    ``ready`` serve now, ``desired`` are asked for (the rest are not ready)."""
    ratio = utilization / target
    with_metric = min(measured, ready)  # pods removed since the datapoint have no say
    missing = ready - with_metric
    unready = desired - ready
    rebalance_unready = unready > 0 and ratio > 1
    if not rebalance_unready and not missing:
        return desired if abs(ratio - 1) <= TOLERANCE else math.ceil(ratio * ready - CEIL_EPSILON)
    used = utilization * with_metric  # in pod-percent of the request
    pods = with_metric
    if missing and ratio != 1:
        used += (max(100.0, target) if ratio < 1 else 0.0) * missing
        pods += missing
    if rebalance_unready:
        pods += unready
    new_ratio = used / pods / target
    if abs(new_ratio - 1) <= TOLERANCE or (ratio < 1 < new_ratio) or (ratio > 1 > new_ratio):
        return desired
    proposed = math.ceil(new_ratio * pods - CEIL_EPSILON)
    if (new_ratio < 1 and proposed > desired) or (new_ratio > 1 and proposed < desired):
        return desired
    return proposed


def scale_up_limit(current: int) -> int:
    """The most pods one minute of 15 s syncs may reach from ``current``."""
    limit = current
    for _ in range(SYNCS_PER_MINUTE):
        limit = max(limit * SCALE_UP_FACTOR, limit + SCALE_UP_PODS)
    return limit
