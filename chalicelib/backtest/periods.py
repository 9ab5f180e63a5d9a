"""A replayed metric's datapoints: per-minute values aggregated into the periods of a CloudWatch metric."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from chalicelib.models.signals import Datapoint

MINUTE = timedelta(minutes=1)


class RequestSeries(list[Datapoint]):
    """The datapoints of a replay, appended minute by minute, with their values as floats alongside
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
    """Per-minute values aggregated (``aggregate``: sum by default) into the periods of one metric,
    each period appended once it ends.

    Periods are aligned to the clock, as CloudWatch aligns them; a period in which no minute had
    a value has no datapoint (a metric nobody published).
    """

    def __init__(self, period_s: int, start: datetime, aggregate: Callable[[Sequence[float]], float] = sum) -> None:
        self.series = RequestSeries()
        self._period_min = max(1, period_s // 60)
        self._start = start
        self._aggregate = aggregate
        # Minutes of the clock's current period already gone at minute 0.
        self._offset = int(start.timestamp() // 60) % self._period_min
        self._values: list[float] = []

    def add(self, minute: int, value: float | None) -> None:
        if self._period_min == 1:  # the hot path of every 1-minute replay
            if value is not None:
                self.series.append(Datapoint.model_construct(timestamp=self._start + minute * MINUTE, value=value))
            return
        if value is not None:
            self._values.append(value)
        position = (self._offset + minute) % self._period_min
        if position == self._period_min - 1:
            if self._values:
                first = minute - position  # before minute 0 for a period the replay saw only in part
                value = self._aggregate(self._values)
                self.series.append(Datapoint.model_construct(timestamp=self._start + first * MINUTE, value=value))
            self._values = []
