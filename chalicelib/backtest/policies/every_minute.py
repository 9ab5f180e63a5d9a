"""A baseline modelled on 1-minute metrics (AWS target tracking, the HPA) in a replay of finer steps.

The baseline is shown each finished minute at the first step of the next, as in a minute replay, and
holds the desired units in between: AWS target tracking's documented alarms are 1-minute ones (its
high-resolution alarms are not published, docs/backtesting.md), and the HPA model reads 1-minute metrics.
The minute's observation: its requests summed, its utilization averaged over the steps some unit served,
and the units of its last step.
"""

from __future__ import annotations

from chalicelib.backtest.policies.base import Controller, Decision, Observation
from chalicelib.backtest.trace import MINUTE_S


class EveryMinute:
    def __init__(self, baseline: Controller, step_s: int) -> None:
        self._baseline = baseline
        self._steps_per_minute = MINUTE_S // step_s
        self._minute: list[Observation] = []  # the steps of the minute under way

    def decide(self, step: int, last: Observation | None, ready: int, desired: int) -> Decision:
        if last is not None:
            self._minute.append(last)
        if step % self._steps_per_minute:
            return Decision(desired)
        minute = step // self._steps_per_minute
        seen = _minute_of(minute - 1, self._minute) if self._minute else None
        self._minute = []
        return self._baseline.decide(minute, seen, ready, desired)


def _minute_of(minute: int, steps: list[Observation]) -> Observation:
    utilizations = [o.utilization for o in steps if o.utilization is not None]
    return Observation(
        step=minute,
        demand=sum(o.demand for o in steps),
        ready=steps[-1].ready,
        desired=steps[-1].desired,
        utilization=sum(utilizations) / len(utilizations) if utilizations else None,
    )
