"""A target's CloudWatch alarm in a replay (a step policy's, or a target-tracking policy's trigger_alarm):
evaluated from the replayed metric as each of its periods closes.

The alarm's metric is read in the world as a target-tracking policy's is (world_metrics.py:
utilization, load per unit, or the total load), aggregated per period of the alarm with its
statistic, and evaluated with CloudWatch's rules (chalicelib/alarm_evaluation.py: M out of N,
evaluation range, missing-data treatment), the code the local event pump runs. The engine is given
the alarm's state, threshold, operator and latest evaluated value, as the Lambdas give it from
DescribeAlarms.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.alarm_evaluation import AlarmDefinition, evaluate
from chalicelib.backtest.periods import PeriodDatapoints
from chalicelib.backtest.trace import MINUTE_S, step_hint
from chalicelib.backtest.world_metrics import AGGREGATES, Reading, reading_of_named
from chalicelib.models.signals import AlarmObservation, AlarmState


class UnsupportedPolicyError(ValueError):
    """A policy the backtest world cannot feed (a step policy whose alarm it cannot evaluate)."""


class ReplayedAlarm:
    def __init__(self, definition: AlarmDefinition, start: datetime, step_s: int = MINUTE_S) -> None:
        aggregate = AGGREGATES.get(definition.statistic)
        if aggregate is None:
            raise UnsupportedPolicyError(
                f"alarm {definition.name!r} reads the {definition.statistic} statistic; a replay has one value a"
                f" step per unit and evaluates {', '.join(AGGREGATES)} only"
            )
        if definition.period_s % step_s:
            raise UnsupportedPolicyError(
                f"alarm {definition.name!r} has a {definition.period_s} s period; a replay in steps of {step_s} s has"
                f" one value a step, so it evaluates periods that are multiples of {step_s} s only"
                + step_hint(definition.period_s)
            )
        self.definition = definition
        self.reading: Reading = reading_of_named(definition.namespace, definition.metric_name, definition.statistic)
        self._datapoints = PeriodDatapoints(definition.period_s, start, aggregate, step_s)
        self._state = AlarmState.INSUFFICIENT_DATA  # a new CloudWatch alarm's state
        self._evaluated_until: int | None = None  # the last evaluation's range end, in periods since the epoch
        self._observation: AlarmObservation | None = None

    def record(self, step: int, value: float | None) -> None:
        """The alarm metric's value in the step that just ended (None: no datapoint that step)."""
        self._datapoints.add(step, value)

    def observe(self, now: datetime) -> AlarmObservation:
        """The alarm as DescribeAlarms would show it at ``now``."""
        period_s = self.definition.period_s
        until = int(now.timestamp()) // period_s
        # The state depends on the complete periods before now only: re-evaluate when one more has closed.
        if self._observation is not None and until == self._evaluated_until:
            return self._observation
        recent = self._datapoints.series[-self.definition.range_periods :]
        evaluation = evaluate(self.definition, [(p.timestamp, p.value) for p in recent], now, self._state)
        self._evaluated_until = until
        if self._observation is not None and evaluation.state is self._state:
            # CloudWatch keeps the StateReasonData of the last state change, and the Lambdas read the
            # alarm's value from there: an alarm that stays in ALARM reports the datapoint it fired on.
            return self._observation
        self._state = evaluation.state
        values = [p["value"] for p in evaluation.reason_data["evaluatedDatapoints"] if "value" in p]
        self._observation = AlarmObservation.model_construct(
            name=self.definition.name,
            state=evaluation.state,
            threshold=self.definition.threshold,
            value=values[0] if values else None,  # evaluatedDatapoints are newest first
            timestamp=None,
            comparison=self.definition.comparison_operator,
        )
        return self._observation
