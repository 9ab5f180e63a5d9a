"""What the engine remembers between evaluations of one target."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.models.decisions import Action, EngineResult
from chalicelib.models.signals import CapacityChange, Recommendation, TargetHistory
from chalicelib.models.targets import TargetBase

# Upper bound on remembered recommendations: a 3,600 s window (the model's maximum) at one
# evaluation a minute needs 60; 200 leaves room for alarm bursts and keeps the stored item small.
MAX_RECOMMENDATIONS = 200


def remember(
    history: TargetHistory, target: TargetBase, result: EngineResult, applied: bool, now: datetime
) -> TargetHistory:
    """The history after this decision.

    Every evaluation records its combined proposal (before normalisation) for the stabilisation
    window, applied or not: advise mode must stabilise exactly like act mode. Only an applied
    change starts cooldowns.
    """
    since = now - timedelta(seconds=target.scale_in_stabilization_s)
    recent = [r for r in history.recommendations if r.at >= since]
    recommendations = [*recent, Recommendation(at=now, capacity=result.proposed)][-MAX_RECOMMENDATIONS:]
    last_scale_out, last_scale_in = history.last_scale_out, history.last_scale_in
    by_policy = dict(history.last_action_by_policy)
    if applied and result.action is not Action.NONE:
        change = CapacityChange(at=now, capacity=result.final)
        if result.action is Action.OUT:
            last_scale_out = change
        else:
            last_scale_in = change
        if result.policy is not None:
            by_policy[result.policy] = now
    return TargetHistory(
        last_scale_out=last_scale_out,
        last_scale_in=last_scale_in,
        last_action_by_policy=by_policy,
        recommendations=recommendations,
    )
