"""Combining votes: scale out if any policy asks, scale in only if all agree, largest wins."""

from __future__ import annotations

import pytest

from chalicelib.engine.combine import combine
from chalicelib.models.decisions import PolicyResult, Vote
from chalicelib.models.reasons import ReasonCode

R = ReasonCode
CURRENT = 4


def vote(name: str, kind: Vote, proposed: int | None = None, reason: ReasonCode = R.WITHIN_TOLERANCE) -> PolicyResult:
    return PolicyResult(policy=name, policy_type="target_tracking", vote=kind, proposed=proposed, reasons=[reason])


OUT_5 = vote("a", Vote.OUT, 5, R.ABOVE_TARGET)
OUT_8 = vote("b", Vote.OUT, 8, R.ABOVE_TARGET)
OUT_8_LATER = vote("c", Vote.OUT, 8, R.ALARM_BREACHING)
IN_2 = vote("d", Vote.IN, 2, R.BELOW_TARGET)
IN_3 = vote("e", Vote.IN, 3, R.BELOW_TARGET)
HOLD = vote("f", Vote.HOLD, CURRENT)
HOLD_NO_DATA = vote("g", Vote.HOLD, None, R.INSUFFICIENT_DATA)
HOLD_STALE = vote("h", Vote.HOLD, None, R.STALE_DATA)
ABSTAIN = vote("i", Vote.ABSTAIN, None, R.ALARM_OK)


@pytest.mark.parametrize(
    ("results", "proposed", "winner", "reasons"),
    [
        pytest.param([OUT_5, IN_2, HOLD], 5, "a", (), id="out-wins-over-in-and-hold"),
        pytest.param([OUT_5, OUT_8], 8, "b", (), id="largest-out-wins"),
        pytest.param([OUT_8, OUT_8_LATER], 8, "b", (), id="tie-goes-to-first-declared"),
        pytest.param([OUT_5, HOLD_NO_DATA], 5, "a", (), id="missing-data-never-blocks-scale-out"),
        pytest.param([IN_2, HOLD], CURRENT, None, (R.SCALE_IN_VETOED,), id="hold-vetoes-scale-in"),
        pytest.param([IN_2, HOLD_NO_DATA], CURRENT, None, (R.SCALE_IN_VETOED, R.HOLD_ON_MISSING_DATA), id="no-data"),
        pytest.param([HOLD_STALE], CURRENT, None, (R.HOLD_ON_MISSING_DATA,), id="stale-data-holds"),
        pytest.param([HOLD, ABSTAIN], CURRENT, None, (), id="plain-hold"),
        pytest.param([IN_2, IN_3], 3, "e", (), id="all-agree-largest-in-wins"),
        pytest.param([IN_2, ABSTAIN], 2, "d", (), id="abstain-does-not-veto"),
        pytest.param([ABSTAIN], CURRENT, None, (), id="nobody-voted"),
        pytest.param([], CURRENT, None, (), id="no-results"),
    ],
)
def test_given_votes_when_combining_then_aws_rules_apply(
    results: list[PolicyResult], proposed: int, winner: str | None, reasons: tuple[ReasonCode, ...]
) -> None:
    combination = combine(results, CURRENT, has_proposing_policies=True)

    assert combination.proposed == proposed
    assert (combination.winner.policy if combination.winner else None) == winner
    assert combination.reasons == reasons


def test_given_no_proposing_policies_when_combining_then_no_policies_is_reported() -> None:
    combination = combine([], CURRENT, has_proposing_policies=False)

    assert (combination.proposed, combination.winner, combination.reasons) == (CURRENT, None, (R.NO_POLICIES,))
