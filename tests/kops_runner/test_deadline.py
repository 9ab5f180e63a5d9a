"""The runner's deadline, on a clock the test moves."""

from __future__ import annotations

import pytest

from kops_runner.deadline import CHANGE_BUDGET_S, Deadline
from kops_runner.errors import DeadlinePassed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_without_a_deadline_every_call_gets_its_own_timeout() -> None:
    deadline = Deadline(at=None)
    assert deadline.bound(600, "kops version") == 600
    deadline.require_for_change("kops edit ig")  # never refused


def test_a_call_near_the_deadline_gets_only_what_is_left() -> None:
    clock = Clock()
    deadline = Deadline(at=clock.now + 840, total_s=840, monotonic=clock)
    assert deadline.bound(600, "kops version") == 600
    clock.now += 700
    assert deadline.bound(600, "kops update cluster") == pytest.approx(140)
    clock.now += 140
    with pytest.raises(DeadlinePassed, match="deadline passed before kops get"):
        deadline.bound(600, "kops get")


def test_the_change_starts_only_with_enough_left_to_finish_it() -> None:
    clock = Clock()
    deadline = Deadline(at=clock.now + 840, total_s=840, monotonic=clock)
    clock.now += 840 - CHANGE_BUDGET_S  # exactly the change's budget left: it may start
    deadline.require_for_change("kops edit ig")
    clock.now += 1
    with pytest.raises(DeadlinePassed, match="nothing was changed"):
        deadline.require_for_change("kops edit ig")


def test_a_short_budget_needs_half_of_it_for_the_change() -> None:
    clock = Clock()
    deadline = Deadline(at=clock.now + 45, total_s=45, monotonic=clock)  # a 60 s lease
    clock.now += 22
    deadline.require_for_change("kops edit ig")  # 23 s left of the 22.5 needed
    clock.now += 1
    with pytest.raises(DeadlinePassed):
        deadline.require_for_change("kops edit ig")
