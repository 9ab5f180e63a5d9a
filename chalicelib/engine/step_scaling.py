"""Step scaling: while a CloudWatch alarm is in ALARM, apply the step its breach size falls in.

Step matching follows the alarm's comparison operator and percent rounding the EC2 Auto Scaling
documentation (docs/aws-semantics.md, "Step bounds and the alarm's comparison operator").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from chalicelib.engine.cooldown import SizingBase
from chalicelib.models.decisions import PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import AlarmState, ComparisonOperator, Signal
from chalicelib.models.targets import MAX_CAPACITY_LIMIT, AdjustmentType, StepAdjustment, StepScalingPolicy


def propose(policy: StepScalingPolicy, signal: Signal, base: SizingBase | None = None) -> PolicyResult:
    """What this policy asks for, given the state of its alarm.

    ``base``: the capacity a scale-out step is applied to when earlier asks count toward it (units
    still starting, or the capacity before a scale-out whose cooldown runs: engine/cooldown.py).
    """
    alarm = signal.alarms.get(policy.alarm_name)
    if alarm is None or alarm.state is AlarmState.INSUFFICIENT_DATA:
        seen = "no state" if alarm is None else "INSUFFICIENT_DATA"
        detail = f"alarm '{policy.alarm_name}' in {seen}"
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, detail)
    if alarm.state is AlarmState.OK:
        return PolicyResult.vote_of(policy, Vote.ABSTAIN, ReasonCode.ALARM_OK, f"alarm '{policy.alarm_name}' in OK")
    value, threshold = alarm.value, alarm.threshold
    if value is None or threshold is None or not (math.isfinite(value) and math.isfinite(threshold)):
        detail = f"alarm '{policy.alarm_name}' in ALARM without a usable value and threshold"
        return PolicyResult.vote_of(policy, Vote.HOLD, ReasonCode.INSUFFICIENT_DATA, detail)
    relation = "threshold" if alarm.comparison is None else f"{alarm.comparison.symbol} threshold"
    breach = f"alarm '{policy.alarm_name}' at {value:.1f} ({relation} {threshold:.1f})"
    step = matching_step(policy.steps, value - threshold, alarm.comparison)
    if step is None:
        detail = f"{breach} matches no step"
        return PolicyResult.vote_of(policy, Vote.ABSTAIN, ReasonCode.NO_MATCHING_STEP, detail, observed=value)
    current = signal.current_capacity
    detail = f"{breach} matching step {_describe_adjustment(policy.adjustment_type, step.adjustment)}"
    proposed = _bounded(adjusted_capacity(policy, step.adjustment, current))
    if proposed > current and base is not None and base.capacity < current:
        # A scale-out while earlier asks have not served yet: applied to what they started from, so it
        # adds only what exceeds them (EC2 warm-up, AAS cooldown), and waits when they cover it.
        proposed = _bounded(adjusted_capacity(policy, step.adjustment, base.capacity))
        if proposed <= current:
            detail += f": {base.covered(proposed)}"
            return PolicyResult.vote_of(policy, Vote.HOLD, base.reason, detail, proposed=current, observed=value)
        detail += f": {base.sized(proposed)}"
    vote = Vote.OUT if proposed > current else Vote.IN if proposed < current else Vote.HOLD
    return PolicyResult.vote_of(policy, vote, ReasonCode.ALARM_BREACHING, detail, proposed=proposed, observed=value)


def _bounded(capacity: int) -> int:
    return min(MAX_CAPACITY_LIMIT, max(0, capacity))


def matching_step(
    steps: Sequence[StepAdjustment], delta: float, comparison: ComparisonOperator | None = None
) -> StepAdjustment | None:
    """The step whose range holds ``delta`` = metric - threshold; None bounds are infinite.

    AWS: above the threshold the lower bound is inclusive and the upper exclusive; below it the
    lower bound is exclusive and the upper inclusive. The alarm's comparison operator says which
    side breaches (a <= alarm at its threshold is below it). Unknown, the value decides, and at
    exactly the threshold (an inclusive operator, either side) above is tried before below.
    """
    if comparison is not None:
        sides = [comparison.breaches_above]
    else:
        sides = [True] if delta > 0 else [False] if delta < 0 else [True, False]
    for above in sides:
        for step in steps:
            lower = -math.inf if step.lower_bound is None else step.lower_bound
            upper = math.inf if step.upper_bound is None else step.upper_bound
            if (lower <= delta < upper) if above else (lower < delta <= upper):
                return step
    return None


def adjusted_capacity(policy: StepScalingPolicy, adjustment: int, current: int) -> int:
    """Capacity after applying one step's adjustment (may be negative; the caller floors it)."""
    if policy.adjustment_type is AdjustmentType.EXACT_CAPACITY:
        return adjustment
    if policy.adjustment_type is AdjustmentType.CHANGE_IN_CAPACITY:
        return current + adjustment
    return current + percent_change(current, adjustment, policy.min_adjustment_magnitude)


def percent_change(current: int, percent: int, min_magnitude: int | None) -> int:
    """Units added by a PercentChangeInCapacity step, rounded the way AWS documents.

    > 1 rounds down, (0, 1) becomes 1, (-1, 0) becomes -1, < -1 rounds toward zero; then
    MinAdjustmentMagnitude raises the magnitude. Exact fractions: 11 x 30 % must be 3.3, not 3.2999.
    """
    raw = Fraction(current * percent, 100)
    if raw > 1:
        change = math.floor(raw)
    elif raw > 0:
        change = 1
    elif raw >= -1:
        change = -1 if raw < 0 else 0
    else:
        change = math.ceil(raw)
    if min_magnitude is not None and change != 0 and abs(change) < min_magnitude:
        change = min_magnitude if change > 0 else -min_magnitude
    return change


def _describe_adjustment(kind: AdjustmentType, adjustment: int) -> str:
    if kind is AdjustmentType.EXACT_CAPACITY:
        return f"= {adjustment}"
    unit = " %" if kind is AdjustmentType.PERCENT_CHANGE_IN_CAPACITY else ""
    return f"{adjustment:+d}{unit}"
