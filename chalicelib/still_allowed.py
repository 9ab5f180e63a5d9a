"""Whether a decision made earlier may still act on the target as it is now (pure).

A decision that waited (a kops decision queued behind a runner, a change whose evaluation died
before acting) is carried out later, by then the target may have been paused, switched to advise
or given other bounds, and the stage may have narrowed what Marea manages: the promises of paused,
advise, [min, max], the allow-list and the ceiling hold at the moment of acting.
"""

from __future__ import annotations

from chalicelib.models.targets import Mode, TargetBase
from chalicelib.resource_limits import ResourceLimits


def reason_not_to_act(target: TargetBase, capacity: int, limits: ResourceLimits) -> str | None:
    """Why setting ``capacity`` now would break a promise of ``target`` or of the stage; None when it may."""
    if target.paused:
        return "the target was paused while it waited"
    if target.mode is not Mode.ACT:
        return f"the target was switched to {target.mode} mode while it waited"
    if not target.min <= capacity <= target.max:
        return f"its size {capacity} is outside the target's [{target.min}, {target.max}] now"
    refusal = limits.refusal(target)
    if refusal is not None:
        return refusal
    ceiling = limits.ceiling(target)
    if ceiling is not None and capacity > ceiling:
        kind = getattr(target, "kind", "")
        return f"its size {capacity} is above this stage's ceiling of {ceiling} for {kind} targets now"
    return None
