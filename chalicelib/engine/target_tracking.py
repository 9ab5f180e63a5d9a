"""Target tracking: propose the capacity that brings a metric back to its target value.

AWS semantics (docs/aws-semantics.md, "Target tracking") with the windows AWS hides made visible
on the policy: scale out proportionally once ``scale_out_datapoints`` are above target, scale in
conservatively once ``scale_in_window`` datapoints are below ``(1 - scale_in_margin) x target``. Missing
or stale data never scales in: the policy votes HOLD, which vetoes every other policy's scale-in.
A policy with ``disable_scale_in`` abstains on scale-in ("Several policies, and `disable_scale_in`").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from chalicelib.engine.cooldown import SizingBase
from chalicelib.engine.serving import UnitsServed
from chalicelib.models.decisions import PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import Datapoint, Signal
from chalicelib.models.targets import (
    MAX_CAPACITY_LIMIT,
    STALE_AFTER_PERIODS,
    CustomMetric,
    TargetTrackingPolicy,
)

# ceil(current x metric / target) on floats: 1 x 2.1 / 0.7 = 3.0000000000000004 must stay 3.
CEIL_EPSILON = 1e-9


def propose(
    policy: TargetTrackingPolicy,
    signal: Signal,
    now: datetime,
    base: SizingBase | None = None,
    served: UnitsServed | None = None,
) -> PolicyResult:
    """What this policy asks for, given the datapoints observed up to ``now``.

    ``base``: the units a scale-out is sized from (engine/cooldown.py); by default the units serving.
    ``served``: the units behind each datapoint (engine/serving.py); by default the units serving now.
    """
    series = usable_datapoints(signal.metrics.get(policy.name, []), now)
    label = metric_label(policy)
    if not series:
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, f"no {label} datapoints")
    latest = series[-1]
    period_s = policy.period_s
    if _is_stale(latest, period_s, now):
        detail = (
            f"stale {label} data (newest datapoint at {latest.timestamp.isoformat()},"
            f" older than {STALE_AFTER_PERIODS} periods of {period_s} s)"
        )
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.STALE_DATA, detail, observed=latest.value)
    base = base or SizingBase(capacity=_serving(signal), current=signal.current_capacity)
    served = served or UnitsServed(now=_serving(signal), at_evaluation=now)
    return _scale_out(policy, series, signal, base, served) or _scale_in_or_hold(policy, series, signal, served)


def decided_by_newest(policy: TargetTrackingPolicy, newest: Sequence[Datapoint], now: datetime) -> bool:
    """Whether the newest datapoints alone (all an alarm event carries) give the vote the whole
    series would, so that reading CloudWatch cannot change it (docs/aws-semantics.md, "The
    datapoints an alarm event carries").

    They must decide every window ``propose`` evaluates. The scale-out window is always evaluated:
    it must be covered. The scale-in window is evaluated only when scale-out does not fire, and its
    older datapoints cannot change the vote when scale-in is disabled or one of the newest datapoints
    is already at or above the scale-in threshold; otherwise it must be covered too.
    """
    points = usable_datapoints(newest, now)
    out_window = points[-policy.scale_out_datapoints :]
    if len(out_window) < policy.scale_out_datapoints or _is_stale(points[-1], policy.period_s, now):
        return False
    if all(p.value > policy.target_value for p in out_window):
        return True
    if policy.disable_scale_in or len(points) >= policy.scale_in_window:
        return True
    threshold = scale_in_threshold(policy)
    return any(p.value >= threshold for p in points)


def _is_stale(latest: Datapoint, period_s: int, now: datetime) -> bool:
    return latest.timestamp < now - timedelta(seconds=STALE_AFTER_PERIODS * period_s)


def usable_datapoints(points: Sequence[Datapoint], now: datetime) -> list[Datapoint]:
    """Points up to ``now``, oldest first; NaN/inf are dropped (they carry no load information)."""
    kept = [p for p in points if p.timestamp <= now and math.isfinite(p.value)]
    return sorted(kept, key=lambda p: p.timestamp)


def metric_label(policy: TargetTrackingPolicy) -> str:
    if isinstance(policy.metric, CustomMetric):
        return policy.metric.metric_name
    return policy.metric.predefined.value


def metric_period_s(policy: TargetTrackingPolicy) -> int:
    return policy.period_s


def scale_in_threshold(policy: TargetTrackingPolicy) -> float:
    """The value every datapoint of the scale-in window must be below (AWS: 0.9 x target)."""
    return (1 - policy.scale_in_margin) * policy.target_value


def ceil_capacity(capacity: float) -> int:
    """Round a fractional capacity up (AWS rounds conservatively), within [0, MAX_CAPACITY_LIMIT]."""
    if not math.isfinite(capacity):
        return MAX_CAPACITY_LIMIT if capacity > 0 else 0
    return max(0, min(MAX_CAPACITY_LIMIT, math.ceil(capacity - CEIL_EPSILON)))


def _serving(signal: Signal) -> int:
    """The units a utilization metric is averaged over: those serving, else the desired capacity."""
    return signal.current_capacity if signal.serving_capacity is None else signal.serving_capacity


def _scale_out(
    policy: TargetTrackingPolicy, series: list[Datapoint], signal: Signal, base: SizingBase, served: UnitsServed
) -> PolicyResult | None:
    needed = policy.scale_out_datapoints
    window = series[-needed:]
    if not all(p.value > policy.target_value for p in window):
        return None
    latest = series[-1].value
    label = metric_label(policy)
    if len(window) < needed:
        detail = (
            f"{label} {latest:.1f} > target {policy.target_value:.1f} for only {len(window)} of {needed} datapoints"
        )
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, detail, observed=latest)
    current = signal.current_capacity
    # Sized from the units serving: units still starting count toward the need (as AWS counts warming
    # instances), so a scale-out during a boot does not order them twice; during an Application Auto
    # Scaling cooldown, from the capacity before the last scale-out (what it added counts). Units that
    # came into service after the datapoint's period began are not behind it: they count as started.
    # Scaling from zero: a target at 0 grows as if it had one unit, so it can leave zero at all.
    base = base.behind_datapoint(served.behind(series[-1].timestamp), served.now)
    need = ceil_capacity(max(base.capacity, 1) * latest / policy.target_value)
    detail = f"{label} {latest:.1f} > target {policy.target_value:.1f} for {needed} datapoints"
    if base.capacity < current and need <= current:
        detail += f": {base.covered(need)}"
        return PolicyResult.vote_of(policy, Vote.HOLD, base.reason, detail, proposed=current, observed=latest)
    proposed = min(max(current + 1, need), MAX_CAPACITY_LIMIT)
    sized = base.sized(need)
    detail += f": {sized}" if sized else ""
    return PolicyResult.vote_of(policy, Vote.OUT, ReasonCode.ABOVE_TARGET, detail, proposed=proposed, observed=latest)


def _scale_in_or_hold(
    policy: TargetTrackingPolicy, series: list[Datapoint], signal: Signal, served: UnitsServed
) -> PolicyResult:
    current = signal.current_capacity
    needed = policy.scale_in_window
    window = series[-needed:]
    threshold = scale_in_threshold(policy)
    latest = series[-1].value
    label = metric_label(policy)
    if policy.disable_scale_in:
        # AWS scales in when every policy *with scale-in enabled* agrees: this one has no say on
        # scale-in, so it abstains instead of holding (a hold would veto the others' scale-in).
        detail = f"{label} {latest:.1f} with target {policy.target_value:.1f}; scale-in is disabled"
        return PolicyResult.vote_of(policy, Vote.ABSTAIN, ReasonCode.SCALE_IN_DISABLED, detail, observed=latest)
    if not all(p.value < threshold for p in window):
        detail = _tolerance_detail(policy, latest)
        return PolicyResult.vote_of(
            policy, Vote.HOLD, ReasonCode.WITHIN_TOLERANCE, detail, proposed=current, observed=latest
        )
    if len(window) < needed:
        detail = f"{label} {latest:.1f} < {threshold:.1f} for only {len(window)} of {needed} datapoints"
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, detail, observed=latest)
    # Conservative: size for the busiest point of the window, not the latest one, each over the units it
    # was averaged over (during an ECS deployment more tasks run than are desired; units removed since
    # the datapoint still served it).
    units, peak = max(((max(served.behind(p.timestamp), 1), p.value) for p in window), key=lambda up: up[0] * up[1])
    proposed = ceil_capacity(units * peak / policy.target_value)
    if proposed >= current:
        detail = f"{label} {latest:.1f} < {threshold:.1f} for {needed} datapoints, but {current} is still needed"
        return PolicyResult.vote_of(
            policy, Vote.HOLD, ReasonCode.WITHIN_TOLERANCE, detail, proposed=current, observed=latest
        )
    detail = f"{label} {latest:.1f} < {threshold:.1f} (target {policy.target_value:.1f}) for {needed} datapoints"
    if units != max(served.now, 1):
        detail += f", sized from the {units} units that served the busiest of them ({served.now} serve now)"
    return PolicyResult.vote_of(policy, Vote.IN, ReasonCode.BELOW_TARGET, detail, proposed=proposed, observed=latest)


def _tolerance_detail(policy: TargetTrackingPolicy, latest: float) -> str:
    label = metric_label(policy)
    target = policy.target_value
    if latest > target:
        return f"{label} {latest:.1f} > target {target:.1f} for fewer than {policy.scale_out_datapoints} datapoints"
    threshold = scale_in_threshold(policy)
    if latest < threshold:
        return f"{label} {latest:.1f} < {threshold:.1f} for fewer than {policy.scale_in_window} datapoints"
    return f"{label} {latest:.1f}, within tolerance of target {target:.1f} (scale-in below {threshold:.1f})"
