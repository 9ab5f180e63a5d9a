"""Scheduled policies: bound capacity (floor and/or ceiling) from the most recent cron firing.

A scheduled policy never proposes a capacity; it votes ABSTAIN and hands the normaliser a floor
and a ceiling, as AWS scheduled actions set MinSize/MaxSize, each field from the latest action
that names it. Firings are computed in the
action's IANA zone, so "08:00 Europe/Madrid" is 07:00 UTC in winter and 06:00 UTC in summer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

from chalicelib.models.decisions import PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.targets import ScheduledAction, ScheduledPolicy

# How far back a firing is looked for. Monthly crons ("0 0 1 * *") always fire within 31 days;
# 35 leaves room for exclusion dates and bounds the work of one evaluation.
LOOKBACK = timedelta(days=35)


@dataclass(frozen=True)
class Firing:
    """Where the backward search for one action's firing ended (times in UTC)."""

    action: ScheduledAction
    at: datetime | None  # the most recent firing on a non-excluded date; None: none within LOOKBACK
    skipped: datetime | None  # the latest firing passed over because its local date is excluded


@dataclass(frozen=True)
class _Fired:
    """An action that fired (at ``at``, UTC) within LOOKBACK on a date that is not excluded."""

    action: ScheduledAction
    at: datetime


def propose(policy: ScheduledPolicy, now: datetime) -> PolicyResult:
    """The bounds in force at ``now``: each field (min, max) from the latest action that set it.

    AWS scheduled actions change only the fields they name (docs/aws-semantics.md, "Scheduled
    actions"): an action naming only the minimum leaves the maximum of an earlier action in force.
    A field whose latest action has ended (``duration_minutes``) is lifted, not handed back.
    """
    firings = [last_firing(action, now) for action in policy.actions]
    fired = [_Fired(f.action, f.at) for f in firings if f.at is not None]
    floor_from = _latest_setting(fired, lambda a: a.min_capacity is not None)
    ceiling_from = _latest_setting(fired, lambda a: a.max_capacity is not None)
    deciding = [f for f in (floor_from, ceiling_from) if f is not None]
    in_force = [f for i, f in enumerate(deciding) if not _ended(f, now) and all(f is not g for g in deciding[:i])]
    skipped_dates = _relevant_exclusions(firings, deciding)
    extra = [ReasonCode.SCHEDULE_EXCLUDED_DATE] if skipped_dates else []
    note = f"; excluded date {', '.join(skipped_dates)} skipped" if skipped_dates else ""
    if not in_force:
        return _result(policy, [ReasonCode.SCHEDULE_INACTIVE, *extra], _inactive_detail(deciding) + note)
    detail = "; ".join(
        f"action '{f.action.name}' ({_describe_bounds(f.action)}) in force since {_local(f)}"
        for f in sorted(in_force, key=lambda f: f.at)
    )
    floor = floor_from.action.min_capacity if floor_from is not None and not _ended(floor_from, now) else None
    ceiling = ceiling_from.action.max_capacity if ceiling_from is not None and not _ended(ceiling_from, now) else None
    return _result(policy, [ReasonCode.SCHEDULE_ACTIVE, *extra], detail + note, floor=floor, ceiling=ceiling)


def _latest_setting(fired: list[_Fired], sets_field: Callable[[ScheduledAction], bool]) -> _Fired | None:
    """The most recent firing of an action that sets the field; ties go to the action declared first."""
    return max((f for f in fired if sets_field(f.action)), key=lambda f: f.at, default=None)


def _ended(fired: _Fired, now: datetime) -> bool:
    # Elapsed time, not wall-clock (UTC arithmetic): a 60-minute action spanning a DST change lasts 60 minutes.
    duration = fired.action.duration_minutes
    return duration is not None and now >= fired.at + timedelta(minutes=duration)


def _local(fired: _Fired) -> str:
    zone = fired.action.timezone
    return f"{fired.at.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


def _inactive_detail(deciding: list[_Fired]) -> str:
    if not deciding:
        return f"no action fired in the last {LOOKBACK.days} days"
    latest = max(deciding, key=lambda f: f.at)
    return f"action '{latest.action.name}' fired {_local(latest)} and ended after {latest.action.duration_minutes} min"


def last_firing(action: ScheduledAction, now: datetime) -> Firing:
    """Most recent firing at or before ``now`` whose local date is not excluded, within LOOKBACK."""
    key = (action.cron, action.timezone, tuple(action.exclude_dates))
    known = _FIRINGS.get(key)
    if known is not None and known.valid_from <= now < known.valid_until:
        return Firing(action=action, at=known.at, skipped=known.skipped)
    firing = _search_last_firing(action, now)
    if len(_FIRINGS) >= _FIRINGS_SIZE:
        _FIRINGS.clear()
    _FIRINGS[key] = _KnownFiring(now, _answer_valid_until(action, now, firing), firing.at, firing.skipped)
    return firing


@dataclass(frozen=True)
class _KnownFiring:
    valid_from: datetime
    valid_until: datetime
    at: datetime | None
    skipped: datetime | None


# Evaluations of one action minute after minute (every tick, every backtest) get the same answer
# until the cron fires again, so the answer is remembered for that stretch: a memo of a pure
# function, keyed on everything it reads, bounded in size.
_FIRINGS: dict[tuple[str, str, tuple[date, ...]], _KnownFiring] = {}
_FIRINGS_SIZE = 4096


def _answer_valid_until(action: ScheduledAction, now: datetime, firing: Firing) -> datetime:
    """Until when ``firing`` stays the answer: the next firing, or a firing leaving LOOKBACK."""
    zone = ZoneInfo(action.timezone)
    following: datetime | None = next(CronSim(action.cron, now.astimezone(zone)), None)
    ends = [moment + LOOKBACK for moment in (firing.at, firing.skipped) if moment is not None]
    if following is not None:
        ends.append(following.astimezone(UTC))
    return min(ends, default=now + LOOKBACK)


def _search_last_firing(action: ScheduledAction, now: datetime) -> Firing:
    zone = ZoneInfo(action.timezone)
    horizon = now - LOOKBACK
    excluded = set(action.exclude_dates)
    skipped: datetime | None = None
    # cronsim's reverse iteration yields times strictly before its start, so start one second
    # after ``now`` (computed in UTC: wall-clock arithmetic would be wrong across DST).
    cursor = (now.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)).astimezone(zone)
    while True:
        firing: datetime | None = next(CronSim(action.cron, cursor, reverse=True), None)
        if firing is None or firing < horizon:
            return Firing(action=action, at=None, skipped=skipped)
        if firing.date() not in excluded:
            return Firing(action=action, at=firing.astimezone(UTC), skipped=skipped)
        skipped = skipped or firing.astimezone(UTC)
        # The whole local day is excluded: resume before its midnight instead of walking every
        # firing of that day (an every-minute cron would otherwise cost 1,440 steps a day).
        cursor = _local_midnight(firing.date(), zone)


def _relevant_exclusions(firings: list[Firing], deciding: list[_Fired]) -> list[str]:
    """Local dates whose skipped firing would otherwise have replaced a field in force (or set one)."""
    decided = {field: f.at for f in deciding for field in ("min", "max") if _sets(f.action, field)}

    def would_replace(skipped_at: datetime, action: ScheduledAction) -> bool:
        fields = [field for field in ("min", "max") if _sets(action, field)]
        return any(field not in decided or skipped_at > decided[field] for field in fields)

    dates = {
        f"{f.skipped.astimezone(ZoneInfo(f.action.timezone)):%Y-%m-%d}"
        for f in firings
        if f.skipped is not None and would_replace(f.skipped, f.action)
    }
    return sorted(dates)


def _sets(action: ScheduledAction, field: str) -> bool:
    return (action.min_capacity if field == "min" else action.max_capacity) is not None


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _describe_bounds(action: ScheduledAction) -> str:
    parts = []
    if action.min_capacity is not None:
        parts.append(f"min {action.min_capacity}")
    if action.max_capacity is not None:
        parts.append(f"max {action.max_capacity}")
    return ", ".join(parts)


def _result(
    policy: ScheduledPolicy,
    reasons: list[ReasonCode],
    detail: str,
    floor: int | None = None,
    ceiling: int | None = None,
) -> PolicyResult:
    return PolicyResult(
        policy=policy.name,
        policy_type=policy.type,
        vote=Vote.ABSTAIN,
        reasons=reasons,
        detail=detail,
        floor=floor,
        ceiling=ceiling,
    )
