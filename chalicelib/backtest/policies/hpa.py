"""The Kubernetes HorizontalPodAutoscaler v2 with its defaults (pkg/controller/podautoscaler).

- Recommendation ``ceil(ready * utilization / target)``; nothing changes while
  |utilization / target - 1| <= 0.1 (tolerance). The replica calculator's corrections
  (replica_calculator.go ``groupPods``, and kubernetes.io "Horizontal Pod Autoscaling",
  "Algorithm details"): pods not ready (booting) and pods whose latest metric is from before they
  became ready (they came up after the datapoint's minute) are set aside: left out of the
  recommendation, and on a scale-up counted as using 0 %, after which the ratio is computed again
  and nothing changes if it is within tolerance or points the other way. So booting and newly
  ready pods are never counted twice.
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
    """The replica calculator for a CPU utilization: ``measured`` pods served the datapoint,
    ``ready`` serve now, ``desired`` are asked for.

    Pods not ready (booting), and pods ready whose latest sample is from before they became ready
    (they came up after the datapoint), are set aside as unready (``groupPods``): left out, but
    counted as using 0 % on a scale-up. This world has no pod without any sample ("missing").
    """
    ratio = utilization / target
    with_metric = min(measured, ready)  # pods removed since the datapoint have no say
    unready = desired - with_metric
    if not with_metric:  # no ready pod has a metric: the HPA cannot compute a ratio and does nothing
        return desired
    if not (unready > 0 and ratio > 1):
        return desired if abs(ratio - 1) <= TOLERANCE else math.ceil(ratio * with_metric - CEIL_EPSILON)
    pods = with_metric + unready
    new_ratio = utilization * with_metric / pods / target
    if abs(new_ratio - 1) <= TOLERANCE or new_ratio < 1:
        return desired
    proposed = math.ceil(new_ratio * pods - CEIL_EPSILON)
    return desired if proposed < desired else proposed


def scale_up_limit(current: int) -> int:
    """The most pods one minute of 15 s syncs may reach from ``current``."""
    limit = current
    for _ in range(SYNCS_PER_MINUTE):
        limit = max(limit * SCALE_UP_FACTOR, limit + SCALE_UP_PODS)
    return limit
