"""Combine the policies' votes into one proposal, the way AWS combines several scaling policies.

AWS (docs/aws-semantics.md, "Several policies, and `disable_scale_in`"): scale out if any policy
asks, scale in only if all that have a say on scale-in agree, and the largest capacity wins. A HOLD
(within tolerance, missing data, alarm not yet readable) counts as "does not agree", so it vetoes
scale-in; an ABSTAIN (e.g. a target-tracking policy with scale-in disabled) has no opinion at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.models.decisions import PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode

# Holds for these reasons mean "could not see the load", not "the load is fine".
MISSING_DATA_REASONS = frozenset({ReasonCode.INSUFFICIENT_DATA, ReasonCode.STALE_DATA})


@dataclass(frozen=True)
class Combination:
    """The combined proposal, before normalisation."""

    proposed: int
    winner: PolicyResult | None  # the policy whose proposal was taken; None when none was
    reasons: tuple[ReasonCode, ...]


def combine(results: Sequence[PolicyResult], current: int, has_proposing_policies: bool) -> Combination:
    """One proposal from every policy's vote; ``current`` stands for "no change"."""
    outs = [r for r in results if r.vote is Vote.OUT]
    ins = [r for r in results if r.vote is Vote.IN]
    holds = [r for r in results if r.vote is Vote.HOLD]
    if outs:
        return _largest(outs, current)
    if holds:
        reasons: list[ReasonCode] = []
        if ins:
            reasons.append(ReasonCode.SCALE_IN_VETOED)
        if any(MISSING_DATA_REASONS.intersection(r.reasons) for r in holds):
            reasons.append(ReasonCode.HOLD_ON_MISSING_DATA)
        return Combination(proposed=current, winner=None, reasons=tuple(reasons))
    if ins:
        return _largest(ins, current)
    reasons_none = () if has_proposing_policies else (ReasonCode.NO_POLICIES,)
    return Combination(proposed=current, winner=None, reasons=reasons_none)


def _largest(results: Sequence[PolicyResult], current: int) -> Combination:
    # max() keeps the first of equal proposals, so ties go to the policy declared first.
    winner = max(results, key=lambda r: current if r.proposed is None else r.proposed)
    proposed = current if winner.proposed is None else winner.proposed
    return Combination(proposed=proposed, winner=winner, reasons=())
