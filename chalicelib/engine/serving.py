"""The units that served a datapoint's period: what a utilization datapoint was averaged over.

A datapoint averages the units that served its period, and it reaches an evaluation a period or more
later (CloudWatch publishes it after the period ends). Units that came into service, or left, since
then are not behind it: sizing it by the units serving now over-scales by their ratio (5 serving at
140 % of target ask for 10; when the 5 new ones serve, the same datapoint asks for 20). The engine
sees the units serving only at evaluations, so each evaluation remembers the count when it changes
(``TargetHistory.serving_counts``), and a datapoint whose period began before the evaluation that
first saw a count is sized from the count before it. A rise seen late sizes from too few (the next
datapoint corrects); a fall seen late sizes from too many, the cautious side for a scale-in.
docs/aws-semantics.md, "Units behind a datapoint".
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.models.signals import ServingCount, Signal, TargetHistory
from chalicelib.models.targets import TargetBase, TargetTrackingPolicy

# Bound on remembered counts: a count that changes at every one-minute evaluation fills a 200-minute
# lookback; older datapoints are sized from the oldest count kept. Keeps the stored item small.
MAX_SERVING_COUNTS = 200


@dataclass(frozen=True)
class UnitsServed:
    """The units serving now and as earlier evaluations saw them."""

    now: int
    at_evaluation: datetime
    seen: Sequence[ServingCount] = ()  # oldest first

    def behind(self, period_start: datetime) -> int:
        """The units serving when a period beginning at ``period_start`` began, as far as the
        evaluations saw: the count of the last one at or before it; the oldest count kept for an
        older period; the units serving now when no evaluation saw a count yet."""
        if period_start >= self.at_evaluation or not self.seen:
            return self.now
        after = bisect_right(self.seen, period_start, key=lambda entry: entry.since)
        return self.seen[max(after - 1, 0)].count


def units_served(history: TargetHistory, signal: Signal, now: datetime) -> UnitsServed:
    """What the evaluation at ``now`` knows of the units serving (the desired capacity stands in for
    a resource that does not say)."""
    serving = signal.current_capacity if signal.serving_capacity is None else signal.serving_capacity
    return UnitsServed(now=serving, at_evaluation=now, seen=history.serving_counts)


def remember_serving(history: TargetHistory, target: TargetBase, serving: int, now: datetime) -> list[ServingCount]:
    """``history.serving_counts`` after an evaluation at ``now`` that saw ``serving`` units.

    Unchanged counts add nothing. Counts are kept as far back as the target's target-tracking
    policies read datapoints (``TargetTrackingPolicy.lookback``), with the one that held at the
    start of that reach.
    """
    seen = history.serving_counts
    if seen and seen[-1].count == serving:
        return seen
    kept = [*seen, ServingCount.model_construct(since=now, count=serving)][-MAX_SERVING_COUNTS:]
    reach = max((p.lookback for p in target.policies if isinstance(p, TargetTrackingPolicy)), default=timedelta(0))
    start = now - reach
    while len(kept) > 1 and kept[1].since <= start:
        kept.pop(0)
    return kept
