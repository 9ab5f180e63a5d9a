"""Predictive scaling: provision for the load expected by the time new units can serve.

A unit ordered now serves only after the provisioning delay (``lead_s``) while a unit removed
now is gone at once, so the capacity decided at ``now`` must cover the load from now to
now + lead_s. The policy reads the target's total load (one metric, oldest first, in
``Signal.history``) and proposes the largest of three needs, in units of ``unit_capacity``:

- level: the mean load of the last ``level_window_s`` at ``target_utilization``. This is target
  tracking made precise: it reads the load itself, so units still booting are never counted
  twice, and it needs no run of datapoints above target before it moves;
- recent peak: the busiest period of the last ``peak_window_s`` at 100 %. Spikes seen within the
  window are expected to recur, so noise is provisioned for instead of chased; a surge counts
  from its first period (spike handling). With ``peak_quantile`` below 1, the covered peak
  instead (``covered_peak``): the busiest stretches of a noisy window are let go;
- forecast: both grown by the rise that the same local time of earlier days showed over the next
  ``lead_s``, spent only where the grown load would not fit in the units even at 100 % (a short
  minute to come): a rise the headroom absorbs is left to the level, which follows it as it comes
  (daily and weekly seasonality learnt from the history given, nothing stored).

A burst that recurred at the same minute of each of the last hours (a cron job) is left out of
the level and the recent peak, and served only when it comes round again: a floor from the lead
before it until it has passed (engine/recurring.py), so capacity is not held at burst level all hour.

Confidence is asymmetric, as in AWS predictive scaling, which never scales in on its forecast:
pre-scaling out needs every reference day to show the rise; scaling in needs no reference day to
show one, and half a peak window of data at least. Missing or stale data never scales in.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from chalicelib.engine.recurring import HOUR_S, RECURRING_HOURS, Bursts, recurring_bursts
from chalicelib.engine.target_tracking import ceil_capacity
from chalicelib.models.decisions import PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import Datapoint, Signal
from chalicelib.models.targets import STALE_AFTER_PERIODS, PredictivePolicy

DAY = timedelta(days=1)
# Reference days: the same weekday one and two weeks ago when both are in the history (weekly
# seasonality); otherwise the median of the last 5 days (daily seasonality: a weekday's median
# is a weekday), with the same weekday of last week when there is one, which settles weekends.
# 14 days is what CloudWatch keeps at 1-minute resolution.
WEEKLY_DAYS = (7, 14)
RECENT_DAYS = 5
# Scale-in needs at least this share of the peak window's periods: a gap is not a quiet hour.
MIN_PEAK_COVERAGE = 0.5
# A reference day whose load was near zero says nothing about growth; cap what it can claim.
MAX_GROWTH = 100.0


class Need(NamedTuple):
    """What one stretch of load asks of capacity: the load that must be served at 100 %."""

    level: float  # mean load per period
    peak: float  # busiest period (the covered peak, with a peak_quantile below 1)
    busiest: float = 0.0  # busiest period of the peak window, whatever the quantile

    def load_at_full(self, utilization: float) -> float:
        return max(self.peak, self.level / utilization)


@dataclass(frozen=True)
class Forecast:
    """Growth of the need from now to now + lead_s, by what the reference days showed."""

    growth_out: float  # the rise every reference day agrees on (< 1: none)
    growth_in: float  # the largest rise any reference day showed
    references: str  # which days, for the explanation


NO_FORECAST = Forecast(growth_out=1.0, growth_in=1.0, references="no reference days yet")


class SeriesView:
    """Complete periods of a sorted series before ``now``, found by time without copying it.

    The series is oldest first (the collector sorts it; the backtest appends in order) and
    usually one point per period, so an index is first guessed from the spacing, then checked;
    gaps fall back to a binary search.
    """

    def __init__(self, points: Sequence[Datapoint], now: datetime, period_s: int) -> None:
        self._points = points
        # A series that keeps its values as floats too (a replay's, see marea_backtest) is read
        # without touching every Datapoint: the hot path of a 40,000-minute replay.
        known: list[float] | None = getattr(points, "float_values", None)
        self._values = known if known is not None and len(known) == len(points) else None
        self._period = timedelta(seconds=period_s)
        # Only periods that have ended by now: a partial period under-counts its load.
        self.stop = self._index(now - self._period + timedelta(microseconds=1), 0, len(points))

    @property
    def latest(self) -> Datapoint | None:
        return self._points[self.stop - 1] if self.stop else None

    def values(self, start: datetime, end: datetime) -> list[float]:
        """Finite values of the periods starting in [start, end)."""
        return self.spans(start, end)[0]

    def spans(self, *edges: datetime) -> list[list[float]]:
        """Finite values between consecutive ``edges`` (ascending): [edges[0], edges[1]), ..."""
        cuts = [self._index(edges[0], 0, self.stop)]
        for edge in edges[1:]:
            cuts.append(self._index_after(edge, cuts[-1]))
        base = cuts[0]
        if self._values is not None:
            values = self._values[base : cuts[-1]]
        else:
            values = list(map(_value, self._points[base : cuts[-1]]))
        spans = [values[low - base : high - base] for low, high in pairwise(cuts)]
        if math.isfinite(sum(values)):
            return spans
        return [[v for v in span if math.isfinite(v)] for span in spans]

    def _index(self, at: datetime, low: int, high: int) -> int:
        """The first index in [low, high) whose timestamp is >= at (``high`` if none)."""
        points = self._points
        if low >= high or points[low].timestamp >= at:
            return low
        last = points[high - 1].timestamp
        if at > last:
            return high
        return self._checked(high - 1 - int((last - at) / self._period), at, low, high)

    def _index_after(self, at: datetime, low: int) -> int:
        """Like ``_index`` from ``low`` on, guessing forwards: the next edge is usually near."""
        points, high = self._points, self.stop
        if low >= high or points[low].timestamp >= at:
            return low
        if points[high - 1].timestamp < at:
            return high
        return self._checked(low + math.ceil((at - points[low].timestamp) / self._period), at, low, high)

    def _checked(self, guess: int, at: datetime, low: int, high: int) -> int:
        """``guess`` if it is the first index at or after ``at``; otherwise a binary search."""
        points = self._points
        if low < guess < high and points[guess].timestamp >= at > points[guess - 1].timestamp:
            return guess
        return bisect_left(points, at, low, high, key=_timestamp)


_timestamp = attrgetter("timestamp")
_value = attrgetter("value")


def propose(policy: PredictivePolicy, signal: Signal, now: datetime) -> PolicyResult:
    """What this policy asks for at ``now``, from the load history in ``signal.history``."""
    period_s = policy.metric.period_s
    view = SeriesView(signal.history.get(policy.name, []), now, period_s)
    latest = view.latest
    label = policy.metric.metric_name
    if latest is None:
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, f"no {label} datapoints")
    if latest.timestamp < now - timedelta(seconds=(STALE_AFTER_PERIODS + 1) * period_s):
        detail = f"stale {label} data (newest datapoint at {latest.timestamp.isoformat()})"
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.STALE_DATA, detail, observed=latest.value)
    windows = _Windows.of(policy)
    need, coverage = _need_of(windows, *view.spans(now - windows.before, now - windows.inner, now))
    if need is None:
        detail = f"no recent {label} datapoints"
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, detail, observed=latest.value)
    bursts = None
    # Only a binding busiest period can be a recurring burst (a covered peak may have let it go).
    if need.busiest > need.level / windows.utilization:
        bursts = _recurring(policy, windows, view, latest.timestamp, need)
        if bursts is not None:  # leaving the bursts out never raises the need (a covered peak may be lower)
            need = Need(level=min(bursts.level, need.level), peak=min(bursts.peak, need.peak))
    forecast = seasonal_forecast(policy, windows, view, now)
    return _vote(policy, signal.current_capacity, need, forecast, coverage, bursts)


def _recurring(
    policy: PredictivePolicy, windows: _Windows, view: SeriesView, latest: datetime, need: Need
) -> Bursts | None:
    return recurring_bursts(
        view.values,
        latest + timedelta(seconds=windows.period_s),
        period_s=windows.period_s,
        peak_window_s=windows.peak_window_s,
        level_window_s=policy.level_window_s,
        ahead_s=int(windows.ahead.total_seconds()),
        level=need.level,
        utilization=windows.utilization,
    )


class _Windows(NamedTuple):
    """A policy's windows as timedeltas, computed once per evaluation (the hot path of replays)."""

    before: timedelta  # the longer of the level and peak windows
    inner: timedelta  # the shorter one
    ahead: timedelta  # lead time plus the period that starts at its end
    level_is_inner: bool
    period_s: int
    peak_window_s: int
    utilization: float
    peak_quantile: float
    stretch: int  # periods in lead_s and the period after it: what one decision must cover
    surge: int  # periods of the surge window

    @classmethod
    def of(cls, policy: PredictivePolicy) -> _Windows:
        return cls(
            timedelta(seconds=max(policy.level_window_s, policy.peak_window_s)),
            timedelta(seconds=min(policy.level_window_s, policy.peak_window_s)),
            timedelta(seconds=policy.lead_s + policy.metric.period_s),
            policy.level_window_s <= policy.peak_window_s,
            policy.metric.period_s,
            policy.peak_window_s,
            policy.target_utilization / 100,
            policy.peak_quantile,
            math.ceil(policy.lead_s / policy.metric.period_s) + 1,
            policy.surge_window_s // policy.metric.period_s,
        )


def seasonal_forecast(policy: PredictivePolicy, windows: _Windows, view: SeriesView, now: datetime) -> Forecast:
    """The growth the reference days showed over the next ``lead_s`` (1.0 when unknown)."""
    if policy.history_days <= 0:
        return NO_FORECAST
    zone = None if policy.timezone == "UTC" else ZoneInfo(policy.timezone)
    known: dict[int, float | None] = {}

    def growth(days_ago: int) -> float | None:
        if days_ago not in known:
            known[days_ago] = _growth_on(windows, view, _same_local_time(now, days_ago, zone))
        return known[days_ago]

    weekly = [growth(k) for k in WEEKLY_DAYS if k <= policy.history_days]
    if len(weekly) == len(WEEKLY_DAYS) and all(g is not None for g in weekly):
        both = [g for g in weekly if g is not None]
        return Forecast(min(both), max(both), "same weekday 1 and 2 weeks ago")
    recent = [g for g in (growth(k) for k in range(1, min(RECENT_DAYS, policy.history_days) + 1)) if g is not None]
    if not recent:
        return NO_FORECAST
    references = [statistics.median(recent)]
    names = f"median of {len(recent)} previous day{'s' if len(recent) > 1 else ''}"
    last_week = weekly[0] if weekly else None
    if last_week is not None:
        references.append(last_week)
        names += " and the same weekday last week"
    return Forecast(min(references), max(references), names)


def history_start(policy: PredictivePolicy, now: datetime) -> datetime:
    """The oldest instant ``propose`` reads at ``now``: the signal collector reads from there.

    The windows before now (at least the hours in which recurring bursts are learnt) and before the
    same local time of each reference day, which a DST change moves by up to its shift in UTC.
    """
    windows = _Windows.of(policy)
    zone = None if policy.timezone == "UTC" else ZoneInfo(policy.timezone)
    recent = now - max(windows.before, timedelta(seconds=RECURRING_HOURS * HOUR_S))
    days = _reference_days(policy)
    return min([recent, *(_same_local_time(now, days_ago, zone) - windows.before for days_ago in days)])


def _reference_days(policy: PredictivePolicy) -> set[int]:
    """Every day ``seasonal_forecast`` may compare with, in days before now."""
    weekly = {k for k in WEEKLY_DAYS if k <= policy.history_days}
    return weekly | set(range(1, min(RECENT_DAYS, policy.history_days) + 1))


def _same_local_time(now: datetime, days_ago: int, zone: ZoneInfo | None) -> datetime:
    if zone is None:
        return now - days_ago * DAY
    # Wall-clock arithmetic in the policy's zone: 09:00 yesterday is 09:00 across a DST change.
    return (now.astimezone(zone) - days_ago * DAY).astimezone(UTC)


def _need_of(windows: _Windows, early: list[float], late: list[float]) -> tuple[Need | None, float]:
    """Mean and peak of the windows before an instant, and the share of the peak window with data.

    ``late`` holds the values of the shorter window, ``early`` those of the longer one before it.
    """
    if not late:
        return None, 0.0
    # The shorter window is the end of the longer one: "late" is in both, "early" only in the longer.
    if windows.peak_quantile < 1:
        peak_values = early + late if windows.level_is_inner else late
        level_values = late if windows.level_is_inner else early + late
        peak = covered_peak(peak_values, windows.stretch, windows.peak_quantile, windows.surge)
        level = sum(level_values) / len(level_values)
        need = Need(level=level, peak=peak, busiest=max(peak_values))
        return need, len(peak_values) * windows.period_s / windows.peak_window_s
    late_max = max(late)
    if windows.level_is_inner:
        level, peak_count = sum(late) / len(late), len(early) + len(late)
        peak = max(max(early), late_max) if early else late_max
    else:
        level, peak, peak_count = (sum(early) + sum(late)) / (len(early) + len(late)), late_max, len(late)
    return Need(level=level, peak=peak, busiest=peak), peak_count * windows.period_s / windows.peak_window_s


def covered_peak(values: Sequence[float], stretch: int, quantile: float, surge: int = 0) -> float:
    """The load that covers ``quantile`` of the stretches of ``stretch`` periods in ``values``, and
    the busiest of the last ``surge`` periods.

    A capacity decided now must serve until a unit ordered now could (lead_s), so what it covers is
    the busiest period of each such stretch: the rolling maxima, of which the nearest-rank
    ``quantile`` is taken. The busiest other stretches are let go: on a noisy load they are spikes
    that holding their level all window would not have bought back. A surge still counts at once:
    the newest periods are always covered.
    """
    newest = max(values[-surge:]) if surge else 0.0
    if len(values) <= stretch:
        return max(values)
    maxima = sorted(max(values[i : i + stretch]) for i in range(len(values) - stretch + 1))
    return max(newest, maxima[max(0, math.ceil(quantile * len(maxima)) - 1)])


def _growth_on(windows: _Windows, view: SeriesView, then: datetime) -> float | None:
    """Busiest period of then .. then + lead over the busiest load before then, on one reference day.

    Both at 100 %: whether the grown load fits in the units is judged at 100 % (``_grown``).
    Against that day's busiest period (not a covered one), so a noisy day does not "rise".
    """
    early, late, ahead = view.spans(then - windows.before, then - windows.inner, then, then + windows.ahead)
    before, coverage = _need_of(windows._replace(peak_quantile=1.0), early, late)
    if before is None or coverage < MIN_PEAK_COVERAGE or not ahead:
        return None
    base = max(before.peak, before.level)
    if base <= 0:
        return None
    return min(max(ahead) / base, MAX_GROWTH)


def _vote(
    policy: PredictivePolicy, current: int, need: Need, forecast: Forecast, coverage: float, bursts: Bursts | None
) -> PolicyResult:
    result = _vote_on_need(policy, current, need, forecast, coverage, bursts)
    if bursts is None or bursts.due <= 0:
        return result
    floor = _units(policy, bursts.due)
    if floor <= (current if result.proposed is None else result.proposed):
        return result
    # A floor, not a proposal: the stabilisation window would hold burst capacity long after the burst.
    return result.model_copy(update={"floor": floor})


def _vote_on_need(
    policy: PredictivePolicy, current: int, need: Need, forecast: Forecast, coverage: float, bursts: Bursts | None
) -> PolicyResult:
    utilization = policy.target_utilization / 100
    load = need.load_at_full(utilization)
    units_now = _units(policy, load)
    units_out = _grown(policy, need, load, forecast.growth_out, units_now, fits=current)
    units_in = _grown(policy, need, load, forecast.growth_in, units_now, fits=units_now)
    detail = _describe(policy, need, forecast, bursts)
    if units_out > current:
        reason = ReasonCode.ABOVE_TARGET if units_now > current else ReasonCode.FORECAST_RISE
        return PolicyResult.vote_of(
            policy, Vote.OUT, reason, f"{detail}: needs {units_out}", proposed=units_out, observed=need.level
        )
    if units_in < current and coverage < MIN_PEAK_COVERAGE:
        detail = f"{detail}; only {coverage:.0%} of the {policy.peak_window_s} s peak window has data"
        return PolicyResult.vote_of(
            policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, detail, proposed=current, observed=need.level
        )
    if units_in < current:
        return PolicyResult.vote_of(
            policy,
            Vote.IN,
            ReasonCode.BELOW_TARGET,
            f"{detail}: needs {units_in}",
            proposed=units_in,
            observed=need.level,
        )
    if units_now < current:
        detail = f"{detail}: {units_now} would do now, but a reference day rose to {units_in} within {policy.lead_s} s"
        return PolicyResult.vote_of(
            policy, Vote.HOLD, ReasonCode.FORECAST_RISE, detail, proposed=current, observed=need.level
        )
    return PolicyResult.vote_of(
        policy,
        Vote.HOLD,
        ReasonCode.WITHIN_TOLERANCE,
        f"{detail}: {current} fits",
        proposed=current,
        observed=need.level,
    )


def _grown(policy: PredictivePolicy, need: Need, load: float, growth: float, units_now: int, fits: int) -> int:
    """Units for a forecast rise: spent only where the rise would not fit in ``fits`` units at all
    (a short minute to come), and then sized at target like the load of now."""
    if _units(policy, max(need.peak, need.level) * max(1.0, growth)) <= fits:
        return units_now
    return max(units_now, _units(policy, load * growth))


def _units(policy: PredictivePolicy, load: float) -> int:
    return ceil_capacity(load / policy.unit_capacity)


def _describe(policy: PredictivePolicy, need: Need, forecast: Forecast, bursts: Bursts | None) -> str:
    label = policy.metric.metric_name
    growth = max(1.0, forecast.growth_out)
    rise = f"x{growth:.2f}" if growth > 1 else "no rise"
    text = (
        f"{label} mean {need.level:.1f} over {policy.level_window_s} s (at {policy.target_utilization:g} %),"
        f" {_peak_label(policy)} {need.peak:.1f} (at 100 %), {rise} forecast within"
        f" {policy.lead_s} s from {forecast.references}, {policy.unit_capacity:g} per unit"
    )
    if bursts is None:
        return text
    minutes = ", ".join(f":{m:02d}" for m in bursts.minutes_of_hour())
    text += f"; bursts at {minutes} of each of the last {RECURRING_HOURS} hours left out of mean and peak"
    if bursts.due > 0:
        text += (
            f", {bursts.due:.1f} due within {policy.lead_s} s: floor {_units(policy, bursts.due)} until it has passed"
        )
    return text


def _peak_label(policy: PredictivePolicy) -> str:
    if policy.peak_quantile >= 1:
        return f"peak over {policy.peak_window_s} s"
    stretch_s = _Windows.of(policy).stretch * policy.metric.period_s
    label = f"covered peak ({policy.peak_quantile * 100:g} % of the {stretch_s} s stretches of {policy.peak_window_s} s"
    return label + (f", busiest of the last {policy.surge_window_s} s)" if policy.surge_window_s else ")")
