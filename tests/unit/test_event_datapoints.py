"""When an alarm event's few newest datapoints may stand in for a target-tracking policy's read.

docs/aws-semantics.md, "The datapoints an alarm event carries": only when they decide every window
the policy evaluates, so that the vote is the one the whole series would give. The property test
holds ``decided_by_newest`` to exactly that against ``propose`` itself.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.engine import target_tracking
from chalicelib.engine.target_tracking import decided_by_newest
from tests.unit.engine_factories import NOW, series, signal, tt_policy

# target 60: scale out above 60, scale in below 54; windows 3 (out) and 15 (in)
CASES = [
    pytest.param([95, 95, 95], True, id="covers-the-scale-out-window-all-above"),
    pytest.param([95, 95], False, id="shorter-than-the-scale-out-window"),
    pytest.param([20, 20, 20], False, id="below-target-but-15-datapoints-unseen"),
    pytest.param([20] * 15, True, id="covers-the-scale-in-window"),
    pytest.param([20, 56, 20], True, id="one-at-the-scale-in-threshold-rules-scale-in-out"),
    pytest.param([54, 20, 20], True, id="exactly-the-threshold-blocks-scale-in"),
    pytest.param([70, 95, 95, 20], True, id="latest-inside-tolerance-older-above"),
    pytest.param([53.9, 20, 20], False, id="all-below-the-threshold-older-unseen"),
]


@pytest.mark.parametrize(("values", "decided"), CASES)
def test_given_newest_datapoints_when_asked_then_they_decide_only_what_they_show(
    values: list[float], decided: bool
) -> None:
    assert decided_by_newest(tt_policy(), series(values), NOW) is decided


def test_given_scale_in_disabled_then_the_scale_out_window_is_enough() -> None:
    assert decided_by_newest(tt_policy(disable_scale_in=True), series([20, 20, 20]), NOW)


def test_given_stale_or_no_datapoints_then_cloudwatch_must_be_read() -> None:
    assert not decided_by_newest(tt_policy(), series([95] * 3, end=NOW - timedelta(minutes=4)), NOW)
    assert not decided_by_newest(tt_policy(), [], NOW)


# Mostly quiet (so that long scale-in windows fill), with values on both sides of each threshold.
VALUES = st.sampled_from([20.0] * 5 + [0.0, 53.9, 54.0, 59.0, 60.0, 60.1, 95.0, 95.0])


@settings(max_examples=1000, deadline=None)
@given(
    older=st.lists(VALUES, max_size=12),
    carried=st.lists(VALUES, min_size=1, max_size=6),
    scale_out=st.integers(1, 4),
    scale_in=st.integers(1, 12),
    disable_scale_in=st.booleans(),
    current=st.integers(1, 20),
)
def test_when_the_newest_datapoints_decide_then_propose_votes_as_on_the_whole_series(
    older: list[float], carried: list[float], scale_out: int, scale_in: int, disable_scale_in: bool, current: int
) -> None:
    policy = tt_policy(scale_out_datapoints=scale_out, scale_in_datapoints=scale_in, disable_scale_in=disable_scale_in)
    whole = series(older + carried)
    newest = whole[len(older) :]
    if not decided_by_newest(policy, newest, NOW):
        return
    from_event = target_tracking.propose(policy, signal(current, {"cpu": newest}), NOW)
    from_read = target_tracking.propose(policy, signal(current, {"cpu": whole}), NOW)
    assert from_event == from_read
