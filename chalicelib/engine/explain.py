"""One readable sentence per decision, including the ones that change nothing.

Users of every autoscaler ask why it did (or did not) act (kubernetes/kubernetes#138992,
kedacore/keda#5577). The sentence is mode-agnostic: advise vs act is recorded elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from chalicelib.engine.combine import Combination
from chalicelib.engine.normalize import BoundSource, Normalization, floor_source
from chalicelib.models.decisions import Action, PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode
from chalicelib.models.targets import TargetBase


def explain(
    target: TargetBase,
    current: int,
    action: Action,
    combination: Combination,
    normalization: Normalization,
    policy_results: Sequence[PolicyResult],
    now: datetime,
) -> str:
    final = normalization.final
    if target.paused:
        proposed = f" (policies proposed {combination.proposed})" if combination.proposed != current else ""
        return f"Paused: capacity stays at {current}{proposed}."
    headline = _headline(action, current, final)
    forcing = _forcing_bound(current, action, normalization)
    if forcing is not None:
        # No policy asked for this change (or asked for the opposite): the bound is the cause, and the
        # policies' votes are reported as facts, without the rules that the bound overrode.
        bound = _clamp_note(forcing, normalization, policy_results)
        said = _policies_said(combination, policy_results)
        notes = _notes(target, combination, normalization, policy_results, now, with_clamp=False)
        return f"{headline}: {bound}; {said}{f' ({notes})' if notes else ''}."
    cause = _cause(combination, policy_results, final)
    notes = _notes(target, combination, normalization, policy_results, now)
    return f"{headline}: {cause}{f' ({notes})' if notes else ''}."


def _forcing_bound(current: int, action: Action, normalization: Normalization) -> ReasonCode | None:
    """The bound's reason when it alone moved capacity, or moved it the other way than the policies asked."""
    reason, unclamped = normalization.clamp_reason, normalization.unclamped
    if reason is None or action is Action.NONE or unclamped is None:
        return None
    asked = unclamped - current
    return reason if asked == 0 or (asked > 0) != (action is Action.OUT) else None


def _headline(action: Action, current: int, final: int) -> str:
    if action is Action.OUT:
        return f"Scale out from {current} to {final}"
    if action is Action.IN:
        return f"Scale in from {current} to {final}"
    return f"Hold at {current}"


def _sees(result: PolicyResult) -> str:
    return f"policy '{result.policy}' sees {result.detail}"


def _policies_said(combination: Combination, results: Sequence[PolicyResult]) -> str:
    """What the policies saw and asked for, as facts (no claim about which rule decided)."""
    winner = combination.winner
    if winner is not None:
        return f"{_sees(winner)} and asks for {combination.proposed}"
    holds = [r for r in results if r.vote is Vote.HOLD]
    if ReasonCode.NO_POLICIES in combination.reasons or not holds:
        return _nobody_asked(combination, results)
    wanted = [f"policy '{r.policy}' asked for {r.proposed}" for r in results if r.vote is Vote.IN]
    return "; ".join([*(_sees(r) for r in holds), *wanted])


def _nobody_asked(combination: Combination, results: Sequence[PolicyResult]) -> str:
    if ReasonCode.NO_POLICIES in combination.reasons:
        if results:
            return "the target has only scheduled policies, which bound capacity but never propose it"
        return "the target has no scaling policies"
    abstained = [_sees(r) for r in results if r.vote is Vote.ABSTAIN and r.floor is None and r.ceiling is None]
    return "; ".join(["no policy asked for a change", *abstained])


def _cause(combination: Combination, results: Sequence[PolicyResult], final: int) -> str:
    winner = combination.winner
    if winner is not None:
        asks = f" and asks for {combination.proposed}" if combination.proposed != final else ""
        return f"{_sees(winner)}{asks}"
    holds = [r for r in results if r.vote is Vote.HOLD]
    if ReasonCode.NO_POLICIES in combination.reasons or not holds:
        return _nobody_asked(combination, results)
    parts = [_sees(r) for r in holds]
    if ReasonCode.SCALE_IN_VETOED in combination.reasons:
        wanted = ", ".join(f"policy '{r.policy}' asked for {r.proposed}" for r in results if r.vote is Vote.IN)
        parts = [f"{wanted}, but {'; '.join(parts)}", "scale-in needs every policy to agree"]
    if ReasonCode.HOLD_ON_MISSING_DATA in combination.reasons:
        parts.append("Marea never scales in on missing data")
    return "; ".join(parts)


def _notes(
    target: TargetBase,
    combination: Combination,
    normalization: Normalization,
    results: Sequence[PolicyResult],
    now: datetime,
    *,
    with_clamp: bool = True,
) -> str:
    """What the normaliser changed, in pipeline order."""
    notes: list[str] = []
    if normalization.stabilized_to is not None:
        window = target.scale_in_stabilization_s
        notes.append(f"stabilised to {normalization.stabilized_to} by the {window} s window")
    if normalization.suspended_by is not None:
        notes.append(f"scale-in suspended: {normalization.suspended_by}")
    if normalization.cooldown_until is not None and combination.winner is not None:
        remaining = math.ceil((normalization.cooldown_until - now).total_seconds())
        notes.append(f"the cooldown of policy '{combination.winner.policy}' blocks it for another {remaining} s")
    if normalization.clamp_reason is not None and with_clamp:
        notes.append(_clamp_note(normalization.clamp_reason, normalization, results))
    return "; ".join(notes)


def _clamp_note(reason: ReasonCode, normalization: Normalization, results: Sequence[PolicyResult]) -> str:
    low, high = normalization.bounds.low, normalization.bounds.high
    bounded = [r for r in results if r.floor is not None or r.ceiling is not None]
    schedules = "; ".join(r.detail for r in bounded if floor_source(r) is BoundSource.SCHEDULE)
    bursts = "; ".join(r.detail for r in bounded if floor_source(r) is BoundSource.FORECAST)
    phrases = {
        ReasonCode.CLAMPED_TO_MIN: f"raised to the target's min {low}",
        ReasonCode.CLAMPED_TO_MAX: f"capped at the target's max {high}",
        ReasonCode.SCHEDULED_FLOOR: f"raised to the scheduled floor {low}: {schedules}",
        ReasonCode.SCHEDULED_CEILING: f"lowered to the scheduled ceiling {high}: {schedules}",
        ReasonCode.PREDICTED_BURST_FLOOR: f"raised to {low} for a recurring burst: {bursts}",
        ReasonCode.CLAMPED_TO_RESOURCE_MIN: f"raised to the resource's own min {low}",
        ReasonCode.CLAMPED_TO_RESOURCE_MAX: f"capped at the resource's own max {high}",
    }
    return phrases[reason]
