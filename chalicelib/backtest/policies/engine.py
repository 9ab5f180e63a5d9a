"""Replay a Marea target through the engine the Lambdas run: ``decide`` then ``remember``.

Each minute builds the Signal the signal collector would have read from CloudWatch, from the
world's finished minutes only:

- a target-tracking policy on the ALB's request count per target (``ALBRequestCountPerTarget``,
  or the custom ``AWS/ApplicationELB`` ``RequestCountPerTarget``) reads the requests each serving
  unit took, summed per period of its metric;
- every other target-tracking policy reads utilization, in percent (its metric in this world:
  CPU or memory are taken to move with the load, as the world model says);
- a predictive policy reads the request count, summed per period of its metric (periods aligned
  to the clock, as CloudWatch aligns them).

Models are built with ``model_construct`` from values that are valid by construction (a replay
validates nothing new per minute), and the series are appended to, never copied, so a
40,000-minute replay stays fast.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.backtest.policies.base import Decision, Observation
from chalicelib.backtest.world import World
from chalicelib.engine import decide, remember
from chalicelib.engine.target_tracking import metric_period_s
from chalicelib.models.decisions import Action
from chalicelib.models.signals import Datapoint, ResourceBounds, Signal, TargetHistory
from chalicelib.models.targets import (
    PredefinedMetric,
    PredefinedMetricType,
    PredictivePolicy,
    StepScalingPolicy,
    TargetBase,
    TargetTrackingPolicy,
)

MINUTE = timedelta(minutes=1)
# Metrics that count the requests each registered target (unit) served: AWS publishes
# RequestCountPerTarget as RequestCount / healthy targets, with the Sum statistic only.
PER_UNIT_REQUEST_METRICS = frozenset({("AWS/ApplicationELB", "RequestCountPerTarget")})


class RequestSeries(list[Datapoint]):
    """The request-count datapoints of a replay, appended minute by minute, with their values as
    floats alongside (``float_values``): the predictive policy reads windows of days of them every
    minute, and a slice of floats costs far less than reading each Datapoint. Append only."""

    def __init__(self) -> None:
        super().__init__()
        self.float_values: list[float] = []

    def append(self, point: Datapoint) -> None:
        super().append(point)
        self.float_values.append(point.value)

    def __setitem__(self, *_: object) -> None:
        raise TypeError("a replay's series is append-only")

    def sort(self, *_: object, **__: object) -> None:
        raise TypeError("a replay's series is append-only")

    def reverse(self) -> None:
        raise TypeError("a replay's series is append-only")


class UnsupportedPolicyError(ValueError):
    """A policy the backtest world cannot feed (step policies read alarms this world has not)."""


def reads_requests_per_unit(policy: TargetTrackingPolicy) -> bool:
    """Whether a target-tracking policy tracks the requests per unit (else: utilization)."""
    metric = policy.metric
    if isinstance(metric, PredefinedMetric):
        return metric.predefined is PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET
    return (metric.namespace, metric.metric_name) in PER_UNIT_REQUEST_METRICS


class PeriodSums:
    """Per-minute values summed into the periods of one metric, each period appended once it ends.

    Periods are aligned to the clock, as CloudWatch aligns them; a period in which no minute had
    a value has no datapoint (a metric nobody published).
    """

    def __init__(self, period_s: int, start: datetime) -> None:
        self.series = RequestSeries()
        self._period_min = max(1, period_s // 60)
        self._start = start
        # Minutes of the clock's current period already gone at minute 0.
        self._offset = int(start.timestamp() // 60) % self._period_min
        self._sum: float | None = None

    def add(self, minute: int, value: float | None) -> None:
        if self._period_min == 1:  # the hot path of every 1-minute replay
            if value is not None:
                self.series.append(Datapoint.model_construct(timestamp=self._start + minute * MINUTE, value=value))
            return
        if value is not None:
            self._sum = value if self._sum is None else self._sum + value
        position = (self._offset + minute) % self._period_min
        if position == self._period_min - 1:
            if self._sum is not None:
                first = minute - position  # before minute 0 for a period the replay saw only in part
                self.series.append(Datapoint.model_construct(timestamp=self._start + first * MINUTE, value=self._sum))
            self._sum = None


class EngineController:
    def __init__(self, target: TargetBase, world: World) -> None:
        steps = [p.name for p in target.policies if isinstance(p, StepScalingPolicy)]
        if steps:
            raise UnsupportedPolicyError(
                f"step policies ({', '.join(steps)}) act on CloudWatch alarms, which a backtest does not replay"
            )
        self._target = target
        self._start = world.start
        tracking = [p for p in target.policies if isinstance(p, TargetTrackingPolicy)]
        self._utilization_policies = [p.name for p in tracking if not reads_requests_per_unit(p)]
        # Requests per unit, per period of the policy's metric: {period_s: [policy names]}.
        self._per_unit_policies: dict[int, list[str]] = {}
        for policy in tracking:
            if reads_requests_per_unit(policy):
                self._per_unit_policies.setdefault(metric_period_s(policy), []).append(policy.name)
        self._predictive = [p for p in target.policies if isinstance(p, PredictivePolicy)]
        # What a target-tracking policy is shown, in datapoints: as far back as the signal collector
        # reads it (TargetTrackingPolicy.lookback: its longest window and the stale allowance).
        self._lookback = max([p.lookback // timedelta(seconds=p.period_s) for p in tracking], default=1)
        self._utilization: list[Datapoint] = []
        self._per_unit = {period: PeriodSums(period, world.start) for period in self._per_unit_policies}
        self._requests = {p.metric.period_s: PeriodSums(p.metric.period_s, world.start) for p in self._predictive}
        self._history = TargetHistory()
        self._bounds = ResourceBounds()

    def decide(self, minute: int, last: Observation | None, ready: int, desired: int) -> Decision:
        now = self._start + minute * MINUTE
        if last is not None:
            self._record(last, now - MINUTE)
        recent = self._utilization[-self._lookback :]
        metrics = {name: recent for name in self._utilization_policies}
        for period, names in self._per_unit_policies.items():
            per_unit = self._per_unit[period].series[-self._lookback :]
            metrics.update({name: per_unit for name in names})
        signal = Signal.model_construct(
            current_capacity=desired,
            serving_capacity=ready,
            metrics=metrics,
            alarms={},
            resource_bounds=self._bounds,
            history={p.name: self._requests[p.metric.period_s].series for p in self._predictive},
        )
        result = decide(self._target, signal, self._history, now)
        self._history = remember(self._history, self._target, result, applied=True, now=now)
        return Decision(result.final, result.explanation if result.action is not Action.NONE else "")

    def _record(self, last: Observation, at: datetime) -> None:
        for sums in self._requests.values():
            sums.add(last.minute, last.demand)
        # No unit served: CloudWatch has no average (nor per-target count) for the minute, so no datapoint.
        if self._utilization_policies and last.utilization is not None:
            self._utilization.append(Datapoint.model_construct(timestamp=at, value=last.utilization))
        per_unit = last.demand / last.ready if last.ready else None
        for sums in self._per_unit.values():
            sums.add(last.minute, per_unit)
