"""Whether a decision made earlier may still act on the target as it is now (pure).

A decision that waited (a kops decision queued behind a runner, a change whose evaluation died
before acting) is carried out later, by then the target may have been paused, switched to advise
or given other bounds: the promises of paused, advise and [min, max] hold at the moment of acting.
"""

from __future__ import annotations

from chalicelib.models.targets import Mode, TargetBase


def reason_not_to_act(target: TargetBase, capacity: int) -> str | None:
    """Why setting ``capacity`` now would break a promise of ``target``; None when it may."""
    if target.paused:
        return "the target was paused while it waited"
    if target.mode is not Mode.ACT:
        return f"the target was switched to {target.mode} mode while it waited"
    if not target.min <= capacity <= target.max:
        return f"its size {capacity} is outside the target's [{target.min}, {target.max}] now"
    return None
