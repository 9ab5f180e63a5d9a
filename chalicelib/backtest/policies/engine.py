"""Replay a Marea target through the engine the Lambdas run: ``decide`` then ``remember``.

Each minute builds the Signal the signal collector would have read from CloudWatch, from the
world's finished minutes only. Each policy's metric is read as what it measures in this world
(chalicelib/backtest/world_metrics.py), aggregated per period of the metric with its statistic
(periods aligned to the clock, as CloudWatch aligns them):

- a target-tracking policy reads utilization in percent (CPU, memory), the load each serving unit
  took (the ALB's request count per target, connections per task), or the total load;
- a predictive policy reads the request count, summed per period of its metric;
- a step policy reads its alarm's state, evaluated each minute from the alarm's metric read the
  same way (chalicelib/backtest/alarm_replay.py); the alarm's definition is given to the replay.

Models are built with ``model_construct`` from values that are valid by construction (a replay
validates nothing new per minute), and the series are appended to, never copied, so a
40,000-minute replay stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.backtest.alarm_replay import ReplayedAlarm, UnsupportedPolicyError
from chalicelib.backtest.periods import PeriodDatapoints, RequestSeries
from chalicelib.backtest.policies.base import Decision, Observation
from chalicelib.backtest.world import World
from chalicelib.backtest.world_metrics import AGGREGATES, Reading, reading_of
from chalicelib.engine import decide, remember
from chalicelib.engine.target_tracking import metric_period_s
from chalicelib.models.decisions import Action
from chalicelib.models.signals import ResourceBounds, Signal, TargetHistory
from chalicelib.models.targets import (
    CustomMetric,
    PredefinedMetric,
    PredefinedMetricType,
    PredictivePolicy,
    Statistic,
    StepScalingPolicy,
    TargetBase,
    TargetTrackingPolicy,
)

MINUTE = timedelta(minutes=1)
__all__ = ["EngineController", "RequestSeries", "UnsupportedPolicyError"]


def _statistic(metric: CustomMetric | PredefinedMetric) -> str:
    if isinstance(metric, CustomMetric):
        return metric.statistic.value
    # AWS's predefined metrics: RequestCountPerTarget is a Sum, the utilizations are Averages.
    per_target = metric.predefined is PredefinedMetricType.ALB_REQUEST_COUNT_PER_TARGET
    return Statistic.SUM.value if per_target else Statistic.AVERAGE.value


# One replayed metric per (what it reads, period, statistic): policies reading the same share its datapoints.
FeedKey = tuple[Reading, int, str]


class EngineController:
    def __init__(self, target: TargetBase, world: World, alarms: Mapping[str, AlarmDefinition] | None = None) -> None:
        self._target = target
        self._start = world.start
        tracking = [p for p in target.policies if isinstance(p, TargetTrackingPolicy)]
        # Each target-tracking policy's datapoints: {policy name: feed}, feeds shared by equal metrics.
        self._feeds: dict[FeedKey, PeriodDatapoints] = {}
        self._tracking: dict[str, FeedKey] = {}
        for policy in tracking:
            key = (reading_of(policy.metric), metric_period_s(policy), _statistic(policy.metric))
            if key not in self._feeds:
                self._feeds[key] = PeriodDatapoints(key[1], world.start, _aggregate(policy.name, key[2]))
            self._tracking[policy.name] = key
        self._predictive = [p for p in target.policies if isinstance(p, PredictivePolicy)]
        self._requests = {p.metric.period_s: PeriodDatapoints(p.metric.period_s, world.start) for p in self._predictive}
        self._alarms = _replayed_alarms(target, alarms or {}, world.start)
        # What a target-tracking policy is shown, in datapoints: as far back as the signal collector
        # reads it (TargetTrackingPolicy.lookback: its longest window and the stale allowance).
        self._lookback = max([p.lookback // timedelta(seconds=p.period_s) for p in tracking], default=1)
        self._history = TargetHistory()
        self._bounds = ResourceBounds()

    def decide(self, minute: int, last: Observation | None, ready: int, desired: int) -> Decision:
        now = self._start + minute * MINUTE
        if last is not None:
            self._record(last)
        recent = {key: feed.series[-self._lookback :] for key, feed in self._feeds.items()}
        signal = Signal.model_construct(
            current_capacity=desired,
            serving_capacity=ready,
            metrics={name: recent[key] for name, key in self._tracking.items()},
            alarms={name: alarm.observe(now) for name, alarm in self._alarms.items()},
            resource_bounds=self._bounds,
            history={p.name: self._requests[p.metric.period_s].series for p in self._predictive},
        )
        result = decide(self._target, signal, self._history, now)
        self._history = remember(self._history, self._target, result, applied=True, now=now)
        return Decision(result.final, result.explanation if result.action is not Action.NONE else "")

    def _record(self, last: Observation) -> None:
        for sums in self._requests.values():
            sums.add(last.minute, last.demand)
        # No unit served: CloudWatch has no average (nor per-target count) for the minute, so no datapoint.
        values = {
            Reading.UTILIZATION: last.utilization,
            Reading.PER_UNIT: last.demand / last.ready if last.ready else None,
            Reading.TOTAL: last.demand,
        }
        for (reading, _, _), feed in self._feeds.items():
            feed.add(last.minute, values[reading])
        for alarm in self._alarms.values():
            alarm.record(last.minute, values[alarm.reading])


def _aggregate(policy: str, statistic: str) -> Callable[[Sequence[float]], float]:
    aggregate = AGGREGATES.get(statistic)
    if aggregate is None:
        raise UnsupportedPolicyError(
            f"policy {policy!r} reads the {statistic} statistic; a replay evaluates {', '.join(AGGREGATES)} only"
        )
    return aggregate


def _replayed_alarms(
    target: TargetBase, alarms: Mapping[str, AlarmDefinition], start: datetime
) -> dict[str, ReplayedAlarm]:
    """The alarm of each step policy, evaluated in the replay; a step policy without its alarm is refused."""
    replayed: dict[str, ReplayedAlarm] = {}
    for policy in target.policies:
        if not isinstance(policy, StepScalingPolicy) or policy.alarm_name in replayed:
            continue
        definition = alarms.get(policy.alarm_name)
        if definition is None:
            raise UnsupportedPolicyError(
                f"step policy {policy.name!r} acts on alarm {policy.alarm_name!r}, whose definition (metric,"
                " threshold, periods) the replay was not given"
            )
        replayed[policy.alarm_name] = ReplayedAlarm(definition, start)
    return replayed
