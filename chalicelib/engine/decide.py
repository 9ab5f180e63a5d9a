"""``decide``: propose -> combine -> normalise -> explain, for one target at one instant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib.engine import predictive, scheduled, step_scaling, target_tracking
from chalicelib.engine.combine import Combination, combine
from chalicelib.engine.cooldown import sizing_base
from chalicelib.engine.explain import explain
from chalicelib.engine.normalize import Normalization, normalize
from chalicelib.engine.serving import units_served
from chalicelib.models.decisions import Action, EngineResult, PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.signals import Signal, TargetHistory
from chalicelib.models.targets import (
    PredictivePolicy,
    ScheduledPolicy,
    StepScalingPolicy,
    TargetBase,
    TargetTrackingPolicy,
)

_VOTE_FOR_ACTION = {Action.OUT: Vote.OUT, Action.IN: Vote.IN}


def decide(target: TargetBase, signal: Signal, history: TargetHistory, now: datetime) -> EngineResult:
    """The capacity ``target`` should have at ``now``, with every reason and one sentence why.

    Pure: the same arguments always give the same result. ``now`` must be timezone-aware.
    """
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    current = signal.current_capacity
    results = [_propose(target, policy, signal, history, now) for policy in target.policies]
    has_proposing = any(
        isinstance(p, TargetTrackingPolicy | StepScalingPolicy | PredictivePolicy) for p in target.policies
    )
    combination = combine(results, current, has_proposing)
    normalization = normalize(target, signal, history, combination, results, now)
    final = normalization.final
    action = Action.OUT if final > current else Action.IN if final < current else Action.NONE
    return EngineResult(
        current=current,
        proposed=combination.proposed,
        final=final,
        action=action,
        policy=_attributed_policy(combination, action),
        reasons=_reasons(combination, normalization, results),
        explanation=explain(target, current, action, combination, normalization, results, now),
        policy_results=results,
        effective_min=normalization.bounds.low,
        effective_max=normalization.bounds.high,
        serving=current if signal.serving_capacity is None else signal.serving_capacity,
    )


def _propose(
    target: TargetBase,
    policy: TargetTrackingPolicy | StepScalingPolicy | ScheduledPolicy | PredictivePolicy,
    signal: Signal,
    history: TargetHistory,
    now: datetime,
) -> PolicyResult:
    if isinstance(policy, TargetTrackingPolicy):
        base = sizing_base(target, policy, signal, history, now)
        return target_tracking.propose(policy, signal, now, base, units_served(history, signal, now))
    if isinstance(policy, StepScalingPolicy):
        return step_scaling.propose(policy, signal, sizing_base(target, policy, signal, history, now))
    if isinstance(policy, PredictivePolicy):
        return predictive.propose(policy, signal, now)
    return scheduled.propose(policy, now)


def _attributed_policy(combination: Combination, action: Action) -> str | None:
    """The winning policy, unless the change went the other way (then a bound caused it)."""
    winner = combination.winner
    if winner is None:
        return None
    if action is not Action.NONE and _VOTE_FOR_ACTION[action] is not winner.vote:
        return None
    return winner.policy


def _reasons(
    combination: Combination, normalization: Normalization, results: Sequence[PolicyResult]
) -> list[ReasonCode]:
    """Reasons of the policies that decided, then the combiner's, then the normaliser's; no repeats."""
    if combination.winner is not None:
        deciding = [combination.winner]
    else:
        # No winner: the holds decided; with no holds either, every policy abstained.
        deciding = [r for r in results if r.vote is Vote.HOLD] or list(results)
    bounding = [r for r in results if r.floor is not None or r.ceiling is not None]
    codes = [code for r in [*deciding, *bounding] for code in r.reasons]
    return list(dict.fromkeys([*codes, *combination.reasons, *normalization.reasons]))
