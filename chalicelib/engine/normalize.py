"""Normalise a combined proposal: pause -> stabilise -> scale-in suspension and cooldown -> clamp (the HPA pipeline).

Policies only propose; every invariant lives here, once. The one that matters most:
for an unpaused target, ``target.min <= final <= target.max`` whatever the policies said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.engine.combine import Combination
from chalicelib.engine.cooldown import scale_in_cooldown_end, scale_in_suspension
from chalicelib.models.decisions import PolicyResult
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import ResourceBounds, Signal, TargetHistory
from chalicelib.models.targets import StepScalingPolicy, TargetBase, TargetTrackingPolicy


class BoundSource(StrEnum):
    """Who set a bound; it decides the reason code when the bound binds."""

    TARGET = "target"
    SCHEDULE = "schedule"
    FORECAST = "forecast"  # a predictive policy's floor for a recurring burst (never a ceiling)
    RESOURCE = "resource"


_LOW_REASON = {
    BoundSource.TARGET: ReasonCode.CLAMPED_TO_MIN,
    BoundSource.SCHEDULE: ReasonCode.SCHEDULED_FLOOR,
    BoundSource.FORECAST: ReasonCode.PREDICTED_BURST_FLOOR,
    BoundSource.RESOURCE: ReasonCode.CLAMPED_TO_RESOURCE_MIN,
}
_HIGH_REASON = {
    BoundSource.TARGET: ReasonCode.CLAMPED_TO_MAX,
    BoundSource.SCHEDULE: ReasonCode.SCHEDULED_CEILING,
    BoundSource.RESOURCE: ReasonCode.CLAMPED_TO_RESOURCE_MAX,
}


@dataclass(frozen=True)
class Bounds:
    low: int
    high: int
    low_source: BoundSource = BoundSource.TARGET
    high_source: BoundSource = BoundSource.TARGET


@dataclass(frozen=True)
class Normalization:
    """The final capacity and a trace of which step changed what (the explanation reads it)."""

    final: int
    bounds: Bounds
    reasons: tuple[ReasonCode, ...]
    stabilized_to: int | None = None  # the stabilisation window raised a scale-in to this
    suspended_by: str | None = None  # why the resource suspended a scale-in (ECS deployment, EC2 warm-up)
    cooldown_until: datetime | None = None  # the winning policy's scale-in cooldown blocked it until then
    clamp_reason: ReasonCode | None = None  # a bound moved the capacity to ``final``
    unclamped: int | None = None  # the capacity before the bounds applied


def normalize(
    target: TargetBase,
    signal: Signal,
    history: TargetHistory,
    combination: Combination,
    policy_results: Sequence[PolicyResult],
    now: datetime,
) -> Normalization:
    current = signal.current_capacity
    bounds = effective_bounds(target, policy_results, signal.resource_bounds)
    notes = (ReasonCode.RESOURCE_BOUNDS_DIFFER,) if resource_bounds_differ(target, signal.resource_bounds) else ()
    if target.paused:
        return Normalization(final=current, bounds=bounds, reasons=(ReasonCode.PAUSED, *notes))
    reasons: list[ReasonCode] = []
    capacity = stabilize(combination.proposed, current, history, target.scale_in_stabilization_s, now)
    stabilized_to = None
    if capacity != combination.proposed:
        reasons.append(ReasonCode.STABILIZATION)
        stabilized_to = capacity
    # Scale-out cooldowns are not applied here: they change what a scale-out is sized from
    # (engine/cooldown.py), not whether it may happen. A scale-in may be suspended or wait.
    policy = _winning_policy(target, combination)
    suspended_by = scale_in_suspension(target, policy, signal, history, now) if capacity < current else None
    if suspended_by is not None:
        reasons.append(ReasonCode.SCALE_IN_SUSPENDED)
        capacity = current
    cooldown_until = None
    if capacity < current and policy is not None:
        cooldown_until = scale_in_cooldown_end(target, policy, history, now)
    if cooldown_until is not None:
        reasons.append(ReasonCode.COOLDOWN)
        capacity = current
    # Bounds are applied after the cooldown on purpose: AWS scheduled actions ignore cooldowns,
    # and a target outside [min, max] is brought back at once.
    final, clamp_reason = clamp(capacity, bounds)
    if clamp_reason is not None:
        reasons.append(clamp_reason)
    return Normalization(
        final=final,
        bounds=bounds,
        reasons=(*reasons, *notes),
        stabilized_to=stabilized_to,
        suspended_by=suspended_by,
        cooldown_until=cooldown_until,
        clamp_reason=clamp_reason,
        unclamped=capacity,
    )


def _winning_policy(target: TargetBase, combination: Combination) -> TargetTrackingPolicy | StepScalingPolicy | None:
    winner = combination.winner
    policy = None if winner is None else next((p for p in target.policies if p.name == winner.policy), None)
    return policy if isinstance(policy, TargetTrackingPolicy | StepScalingPolicy) else None


def stabilize(proposed: int, current: int, history: TargetHistory, window_s: int, now: datetime) -> int:
    """HPA scale-down stabilisation: scale in only to the highest recommendation of the window."""
    if proposed >= current or window_s <= 0:
        return proposed
    since = now - timedelta(seconds=window_s)
    recent = [r.capacity for r in history.recommendations if since <= r.at <= now]
    return min(current, max([proposed, *recent]))


def effective_bounds(target: TargetBase, policy_results: Sequence[PolicyResult], resource: ResourceBounds) -> Bounds:
    """[min, max] after scheduled and resource bounds, by precedence target > schedule > resource.

    Each weaker bound is first clamped into the range the stronger ones left, so the target's
    own [min, max] always wins; where a floor and a ceiling of the same rank cross, the floor
    wins (availability over cost).
    """
    bounds = Bounds(low=target.min, high=target.max)
    # Schedules and predicted bursts share the rank; the higher floor binds, a schedule on a tie.
    floors = [(r.floor, floor_source(r)) for r in policy_results if r.floor is not None]
    floor, source = max(floors, key=lambda item: (item[0], item[1] is BoundSource.SCHEDULE), default=(None, None))
    ceilings = [r.ceiling for r in policy_results if r.ceiling is not None]
    bounds = _narrow(bounds, floor, min(ceilings, default=None), BoundSource.SCHEDULE, source)
    return _narrow(bounds, resource.min, resource.max, BoundSource.RESOURCE)


def floor_source(result: PolicyResult) -> BoundSource:
    return BoundSource.FORECAST if result.policy_type == "predictive" else BoundSource.SCHEDULE


def _narrow(
    bounds: Bounds, low: int | None, high: int | None, source: BoundSource, low_source: BoundSource | None = None
) -> Bounds:
    """`bounds` narrowed by [low, high] set by `source` (`low_source` when the floor came from elsewhere)."""
    new_low, new_low_source = bounds.low, bounds.low_source
    if low is not None and _within(low, bounds) > bounds.low:
        new_low, new_low_source = _within(low, bounds), low_source or source
    new_high, high_source = bounds.high, bounds.high_source
    if high is not None:
        # Clamped against the new floor too, so a crossing floor wins over the ceiling.
        candidate = min(max(high, new_low), bounds.high)
        if candidate < bounds.high:
            new_high, high_source = candidate, source
    return Bounds(low=new_low, high=new_high, low_source=new_low_source, high_source=high_source)


def _within(value: int, bounds: Bounds) -> int:
    return min(max(value, bounds.low), bounds.high)


def clamp(capacity: int, bounds: Bounds) -> tuple[int, ReasonCode | None]:
    if capacity < bounds.low:
        return bounds.low, _LOW_REASON[bounds.low_source]
    if capacity > bounds.high:
        return bounds.high, _HIGH_REASON[bounds.high_source]
    return capacity, None


def resource_bounds_differ(target: TargetBase, resource: ResourceBounds) -> bool:
    return (resource.min is not None and resource.min != target.min) or (
        resource.max is not None and resource.max != target.max
    )
