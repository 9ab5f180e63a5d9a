"""Replay a Marea target through the engine the Lambdas run: ``decide`` then ``remember``.

Each minute builds the Signal the signal collector would have read from CloudWatch: every
target-tracking policy reads utilization (its metric in this world), every predictive policy the
request count. Only values of finished minutes are in it. Models are built with
``model_construct`` from values that are valid by construction (a replay validates nothing new
per minute), and the series are appended to, never copied, so a 40,000-minute replay stays fast.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.engine import decide, remember
from chalicelib.models.decisions import Action
from chalicelib.models.signals import Datapoint, ResourceBounds, Signal, TargetHistory
from chalicelib.models.targets import PredictivePolicy, StepScalingPolicy, TargetBase, TargetTrackingPolicy
from marea_backtest.policies.base import Decision, Observation
from marea_backtest.world import World

# What a target-tracking policy is shown: its longest window and a little more, as the Lambda's
# MAREA_METRIC_LOOKBACK_MINUTES (20) does.
TARGET_TRACKING_LOOKBACK_MIN = 20
MINUTE = timedelta(minutes=1)


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


class EngineController:
    def __init__(self, target: TargetBase, world: World) -> None:
        steps = [p.name for p in target.policies if isinstance(p, StepScalingPolicy)]
        if steps:
            raise UnsupportedPolicyError(
                f"step policies ({', '.join(steps)}) act on CloudWatch alarms, which a backtest does not replay"
            )
        self._target = target
        self._start = world.start
        self._tracking = [p.name for p in target.policies if isinstance(p, TargetTrackingPolicy)]
        self._predictive = [p.name for p in target.policies if isinstance(p, PredictivePolicy)]
        self._lookback = max(
            [TARGET_TRACKING_LOOKBACK_MIN]
            + [p.scale_in_datapoints + 1 for p in target.policies if isinstance(p, TargetTrackingPolicy)]
        )
        self._utilization: list[Datapoint] = []
        self._requests = RequestSeries()
        self._history = TargetHistory()
        self._bounds = ResourceBounds()

    def decide(self, minute: int, last: Observation | None, ready: int, desired: int) -> Decision:
        now = self._start + minute * MINUTE
        if last is not None:
            self._record(last, now - MINUTE)
        recent = self._utilization[-self._lookback :]
        signal = Signal.model_construct(
            current_capacity=desired,
            metrics={name: recent for name in self._tracking},
            alarms={},
            resource_bounds=self._bounds,
            history={name: self._requests for name in self._predictive},
        )
        result = decide(self._target, signal, self._history, now)
        self._history = remember(self._history, self._target, result, applied=True, now=now)
        return Decision(result.final, result.explanation if result.action is not Action.NONE else "")

    def _record(self, last: Observation, at: datetime) -> None:
        if self._predictive:
            self._requests.append(Datapoint.model_construct(timestamp=at, value=last.demand))
        if self._tracking and last.utilization is not None:
            # No unit served: CloudWatch has no average for the minute, so no datapoint at all.
            self._utilization.append(Datapoint.model_construct(timestamp=at, value=last.utilization))
