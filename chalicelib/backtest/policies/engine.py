"""Replay a Marea target through the engine the Lambdas run: ``decide`` then ``remember``.

Each evaluation builds the Signal the signal collector would have read from CloudWatch, from the
world's finished steps only. Each policy's metric is read as what it measures in this world
(chalicelib/backtest/world_metrics.py), aggregated per period of the metric with its statistic
(periods aligned to the clock, as CloudWatch aligns them):

- a target-tracking policy reads utilization in percent (CPU, memory), the load each serving unit
  took (the ALB's request count per target, connections per task), or the total load;
- a predictive policy reads the request count, summed per period of its metric;
- a step policy reads its alarm's state, evaluated as each of the alarm's periods closes from the
  alarm's metric read the same way (chalicelib/backtest/alarm_replay.py); the alarm's definition is
  given to the replay.

The target is evaluated when the Lambdas would evaluate it: on the schedule's tick each minute, and
when one of its alarms (step policies', target-tracking triggers') changes state. In a minute replay
every step is a tick; in a finer one (10, 20 or 30 s) the alarms wake it in between, so a
target-tracking policy with a high-resolution metric needs its ``trigger_alarm``'s definition too.
A metric or alarm period must be a multiple of the step: a replay has nothing finer.

Models are built with ``model_construct`` from values that are valid by construction (a replay
validates nothing new per step), and the series are appended to, never copied, so a
40,000-minute replay stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from chalicelib.alarm_evaluation import AlarmDefinition
from chalicelib.backtest.alarm_replay import ReplayedAlarm, UnsupportedPolicyError
from chalicelib.backtest.periods import PeriodDatapoints, RequestSeries
from chalicelib.backtest.policies.base import Decision, Observation
from chalicelib.backtest.trace import MINUTE_S, step_hint
from chalicelib.backtest.world import World
from chalicelib.backtest.world_metrics import AGGREGATES, Reading, reading_of
from chalicelib.engine import decide, remember
from chalicelib.engine.target_tracking import metric_period_s
from chalicelib.models.decisions import Action
from chalicelib.models.signals import AlarmState, ResourceBounds, Signal, TargetHistory
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
    def __init__(
        self,
        target: TargetBase,
        world: World,
        alarms: Mapping[str, AlarmDefinition] | None = None,
        step_s: int = MINUTE_S,
    ) -> None:
        self._target = target
        self._start = world.start
        self._step = timedelta(seconds=step_s)
        self._steps_per_minute = MINUTE_S // step_s
        tracking = [p for p in target.policies if isinstance(p, TargetTrackingPolicy)]
        # Each target-tracking policy's datapoints: {policy name: feed}, feeds shared by equal metrics.
        self._feeds: dict[FeedKey, PeriodDatapoints] = {}
        self._tracking: dict[str, FeedKey] = {}
        for policy in tracking:
            key = (
                reading_of(policy.metric),
                _replayable_period(policy.name, metric_period_s(policy), step_s),
                _statistic(policy.metric),
            )
            if key not in self._feeds:
                self._feeds[key] = PeriodDatapoints(key[1], world.start, _aggregate(policy.name, key[2]), step_s)
            self._tracking[policy.name] = key
        self._predictive = [p for p in target.policies if isinstance(p, PredictivePolicy)]
        self._requests = {
            p.metric.period_s: PeriodDatapoints(
                _replayable_period(p.name, p.metric.period_s, step_s), world.start, sum, step_s
            )
            for p in self._predictive
        }
        self._alarms = _replayed_alarms(target, alarms or {}, world.start, step_s)
        self._states: dict[str, AlarmState] = {}  # each alarm's state at the last step
        # What a target-tracking policy is shown, in datapoints: as far back as the signal collector
        # reads it (TargetTrackingPolicy.lookback: its longest window and the stale allowance).
        self._lookback = max([p.lookback // timedelta(seconds=p.period_s) for p in tracking], default=1)
        self._history = TargetHistory()
        self._bounds = ResourceBounds()

    def decide(self, step: int, last: Observation | None, ready: int, desired: int) -> Decision:
        now = self._start + step * self._step
        if last is not None:
            self._record(last)
        alarms = {name: alarm.observe(now) for name, alarm in self._alarms.items()}
        states = {name: observation.state for name, observation in alarms.items()}
        changed, self._states = states != self._states, states
        if step % self._steps_per_minute and not changed:  # neither a tick nor an alarm's state change
            return Decision(desired)
        recent = {key: feed.series[-self._lookback :] for key, feed in self._feeds.items()}
        signal = Signal.model_construct(
            current_capacity=desired,
            serving_capacity=ready,
            metrics={name: recent[key] for name, key in self._tracking.items()},
            alarms=alarms,
            resource_bounds=self._bounds,
            history={p.name: self._requests[p.metric.period_s].series for p in self._predictive},
        )
        result = decide(self._target, signal, self._history, now)
        self._history = remember(self._history, self._target, result, applied=True, now=now)
        return Decision(result.final, result.explanation if result.action is not Action.NONE else "")

    def _record(self, last: Observation) -> None:
        for sums in self._requests.values():
            sums.add(last.step, last.demand)
        # No unit served: CloudWatch has no average (nor per-target count) for the step, so no datapoint.
        for (reading, _, statistic), feed in self._feeds.items():
            feed.add(last.step, self._value(reading, statistic, last))
        for alarm in self._alarms.values():
            alarm.record(last.step, self._value(alarm.reading, alarm.definition.statistic, last))

    def _value(self, reading: Reading, statistic: str, last: Observation) -> float | None:
        """What a metric of ``reading`` and ``statistic`` measured in the step ``last``: a Sum counts the step's
        requests; an average or extreme of a per-unit load is a level (requests per minute, as in a minute
        replay), whatever the step."""
        if reading is Reading.UTILIZATION:
            return last.utilization
        if reading is Reading.TOTAL:
            return last.demand
        if not last.ready:
            return None
        per_unit = last.demand / last.ready
        return per_unit if statistic == Statistic.SUM.value else per_unit * self._steps_per_minute


def _replayable_period(policy: str, period_s: int, step_s: int) -> int:
    if period_s % step_s:
        raise UnsupportedPolicyError(
            f"policy {policy!r} reads datapoints of {period_s} s; a replay in steps of {step_s} s has one value a"
            f" step, so it replays periods that are multiples of {step_s} s only" + step_hint(period_s)
        )
    return period_s


def _aggregate(policy: str, statistic: str) -> Callable[[Sequence[float]], float]:
    aggregate = AGGREGATES.get(statistic)
    if aggregate is None:
        raise UnsupportedPolicyError(
            f"policy {policy!r} reads the {statistic} statistic; a replay evaluates {', '.join(AGGREGATES)} only"
        )
    return aggregate


def replayed_alarm_names(target: TargetBase, step_s: int) -> dict[str, str]:
    """The alarms a replay of ``target`` in steps of ``step_s`` evaluates, each with what needs it: its step
    policies' alarms, and in a finer replay its target-tracking policies' ``trigger_alarm``s."""
    needed: dict[str, str] = {}
    for policy in target.policies:
        if isinstance(policy, StepScalingPolicy):
            needed.setdefault(policy.alarm_name, f"step policy {policy.name!r} acts on alarm")
        elif isinstance(policy, TargetTrackingPolicy) and policy.trigger_alarm and step_s < MINUTE_S:
            needed.setdefault(
                policy.trigger_alarm,
                f"target-tracking policy {policy.name!r} is evaluated in {step_s} s steps on alarm",
            )
    return needed


def _replayed_alarms(
    target: TargetBase, alarms: Mapping[str, AlarmDefinition], start: datetime, step_s: int
) -> dict[str, ReplayedAlarm]:
    """The alarm of each step policy, evaluated in the replay; a step policy without its alarm is refused.

    A finer replay also evaluates target-tracking policies' ``trigger_alarm``s, which decide when the target is
    evaluated between the minute's ticks (a minute replay evaluates it every step)."""
    replayed: dict[str, ReplayedAlarm] = {}
    for name, needs in replayed_alarm_names(target, step_s).items():
        definition = alarms.get(name)
        if definition is None:
            raise UnsupportedPolicyError(
                f"{needs} {name!r}, whose definition (metric, threshold, periods) the replay was not given"
            )
        replayed[name] = ReplayedAlarm(definition, start, step_s)
    return replayed
