"""What the engine remembers between evaluations of one target."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.engine.cooldown import base_after_scale_out
from chalicelib.engine.serving import remember_serving
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
    window, applied or not: advise mode must stabilise exactly like act mode, and the units serving
    it saw (engine/serving.py). Only an applied change starts cooldowns; a scale-out remembers the
    capacity it was sized from (engine/cooldown.py).
    """
    since = now - timedelta(seconds=target.scale_in_stabilization_s)
    recent = [r for r in history.recommendations if r.at >= since]
    recommendations = [*recent, Recommendation(at=now, capacity=result.proposed)][-MAX_RECOMMENDATIONS:]
    counts = remember_serving(history, target, result.current if result.serving is None else result.serving, now)
    remembered = history.model_copy(update={"recommendations": recommendations, "serving_counts": counts})
    if not applied or result.action is Action.NONE:
        return remembered
    return remember_change(remembered, target, result.action, result.current, result.final, result.policy, now)


def remember_change(
    history: TargetHistory,
    target: TargetBase,
    action: Action,
    current: int,
    final: int,
    policy_name: str | None,
    now: datetime,
) -> TargetHistory:
    """The history once a change from ``current`` to ``final`` is made at ``now`` (its cooldowns start).

    Also for a change decided earlier and made later: a queued kops decision whose runner starts.
    """
    update: dict[str, object] = {}
    if action is Action.OUT:
        policy = next((p for p in target.policies if p.name == policy_name), None)
        scaling = policy if isinstance(policy, TargetTrackingPolicy | StepScalingPolicy) else None
        before = base_after_scale_out(target, scaling, history, current, now)
        update["last_scale_out"] = CapacityChange(at=now, capacity=final, before=before)
    elif action is Action.IN:
        update["last_scale_in"] = CapacityChange(at=now, capacity=final)
    if policy_name is not None and action is not Action.NONE:
        update["last_action_by_policy"] = {**history.last_action_by_policy, policy_name: now}
    return history.model_copy(update=update)


def forget_change(history: TargetHistory, capacity: int, policy_name: str | None = None) -> TargetHistory:
    """The history without a change to ``capacity`` that was counted but never made (it failed, or its
    runner never ran). What came before it is not known any more: it is dropped, not restored, so at
    worst a cooldown ends early."""
    update: dict[str, object] = {}
    for field in ("last_scale_out", "last_scale_in"):
        change = getattr(history, field)
        if change is not None and change.capacity == capacity:
            update[field] = None
    if policy_name is not None and policy_name in history.last_action_by_policy:
        update["last_action_by_policy"] = {k: v for k, v in history.last_action_by_policy.items() if k != policy_name}
    return history.model_copy(update=update)
