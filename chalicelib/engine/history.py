"""What the engine remembers between evaluations of one target."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.engine.cooldown import base_after_scale_out
from chalicelib.models.decisions import Action, EngineResult
from chalicelib.models.signals import CapacityChange, Recommendation, TargetHistory
from chalicelib.models.targets import StepScalingPolicy, TargetBase, TargetTrackingPolicy

# Upper bound on remembered recommendations: a 3,600 s window (the model's maximum) at one
# evaluation a minute needs 60; 200 leaves room for alarm bursts and keeps the stored item small.
MAX_RECOMMENDATIONS = 200


def remember(
    history: TargetHistory, target: TargetBase, result: EngineResult, applied: bool, now: datetime
) -> TargetHistory:
    """The history after this decision.

    Every evaluation records its combined proposal (before normalisation) for the stabilisation
    window, applied or not: advise mode must stabilise exactly like act mode. Only an applied
    change starts cooldowns; a scale-out remembers the capacity it was sized from (engine/cooldown.py).
    """
    since = now - timedelta(seconds=target.scale_in_stabilization_s)
    recent = [r for r in history.recommendations if r.at >= since]
    recommendations = [*recent, Recommendation(at=now, capacity=result.proposed)][-MAX_RECOMMENDATIONS:]
    last_scale_out, last_scale_in = history.last_scale_out, history.last_scale_in
    by_policy = dict(history.last_action_by_policy)
    if applied and result.action is not Action.NONE:
        if result.action is Action.OUT:
            policy = next((p for p in target.policies if p.name == result.policy), None)
            scaling = policy if isinstance(policy, TargetTrackingPolicy | StepScalingPolicy) else None
            before = base_after_scale_out(target, scaling, history, result.current, now)
            last_scale_out = CapacityChange(at=now, capacity=result.final, before=before)
        else:
            last_scale_in = CapacityChange(at=now, capacity=result.final)
        if result.policy is not None:
            by_policy[result.policy] = now
    return TargetHistory(
        last_scale_out=last_scale_out,
        last_scale_in=last_scale_in,
        last_action_by_policy=by_policy,
        recommendations=recommendations,
    )
