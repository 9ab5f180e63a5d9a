"""One schedule tick over many targets through the SQS fan-out (the full 1,000: `make reliability`)."""

from __future__ import annotations

from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.delivery import Plan
from tests.reliability.scenarios import tick_load

TARGETS = 40  # above the inline limit (25): the tick fans out through SQS


def test_one_tick_over_forty_targets_decides_each_once(aws: EmbeddedAws) -> None:
    outcome = tick_load(aws, targets=TARGETS, plan=Plan(threads=3))
    outcome.check()
    assert outcome.figures.decisions == TARGETS
    # each target's own calls are its writes: commit, claim, act, record (the claim is the conditional write that
    # lets a later evaluation carry out a change its own never made, exactly once); its reads are shared with the
    # other 39 (one BatchGetItem, DescribeServices of 10, one GetMetricData), as is the tick's listing: 4.2 measured
    # (7.2 when each evaluation read alone)
    assert outcome.figures.calls / TARGETS <= 4.5
    print(outcome.figures.summary())
