"""A replayed metric's datapoints: per-step values aggregated into the periods of a CloudWatch metric."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from chalicelib.backtest.trace import MINUTE_S
from chalicelib.models.signals import Datapoint


class RequestSeries(list[Datapoint]):
    """The datapoints of a replay, appended step by step, with their values as floats alongside
    (``float_values``): the predictive policy reads windows of days of them every minute, and a slice
    of floats costs far less than reading each Datapoint. Append only."""

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


class PeriodDatapoints:
    """Per-step values (``step_s``: a minute by default) aggregated (``aggregate``: sum by default) into the
    periods of one metric, each period appended once it ends. ``period_s`` is a multiple of ``step_s``
    (the caller refuses others: a replay has nothing finer than its step).

    Periods are aligned to the clock, as CloudWatch aligns them; a period in which no step had
    a value has no datapoint (a metric nobody published).
    """

    def __init__(
        self,
        period_s: int,
        start: datetime,
        aggregate: Callable[[Sequence[float]], float] = sum,
        step_s: int = MINUTE_S,
    ) -> None:
        self.series = RequestSeries()
        self._period_steps = max(1, period_s // step_s)
        self._step = timedelta(seconds=step_s)
        self._start = start
        self._aggregate = aggregate
        # Steps of the clock's current period already gone at step 0.
        self._offset = int(start.timestamp() // step_s) % self._period_steps
        self._values: list[float] = []

    def add(self, step: int, value: float | None) -> None:
        if self._period_steps == 1:  # the hot path of every replay whose step is the metric's period
            if value is not None:
                self.series.append(Datapoint.model_construct(timestamp=self._start + step * self._step, value=value))
            return
        if value is not None:
            self._values.append(value)
        position = (self._offset + step) % self._period_steps
        if position == self._period_steps - 1:
            if self._values:
                first = step - position  # before step 0 for a period the replay saw only in part
                value = self._aggregate(self._values)
                self.series.append(Datapoint.model_construct(timestamp=self._start + first * self._step, value=value))
            self._values = []
