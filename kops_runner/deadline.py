"""The runner's total deadline (its decision's runner_request): Marea's lease on the group ends soon after it.

Marea stops waiting for a runner when its lease expires and may then start another; a runner that
went on past that could apply a stale size after the newer one. So every kops call is bounded by
what is left of the deadline, and the change itself (`kops edit ig` + `kops update cluster --yes`)
starts only while enough is left to finish it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kops_runner.errors import DeadlinePassed

# The change starts only with this much of the deadline left (or half the runner's whole budget,
# if that is less): an instance group's `kops update cluster` takes well under it.
CHANGE_BUDGET_S = 300.0


@dataclass(frozen=True)
class Deadline:
    at: float | None  # on the monotonic clock; None: no deadline (a run by hand)
    total_s: float | None = None
    monotonic: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def until(
        cls,
        deadline: datetime | None,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> Deadline:
        if deadline is None:
            return cls(at=None, monotonic=monotonic)
        left = (deadline - now()).total_seconds()
        return cls(at=monotonic() + left, total_s=left, monotonic=monotonic)

    def left_s(self) -> float | None:
        return None if self.at is None else self.at - self.monotonic()

    def bound(self, timeout_s: float, what: str) -> float:
        """The timeout for the next step: ``timeout_s``, or less if the deadline is nearer."""
        left = self.left_s()
        if left is None:
            return timeout_s
        if left <= 0:
            raise DeadlinePassed(f"the runner's deadline passed before {what}; nothing more was done")
        return min(timeout_s, left)

    def require_for_change(self, what: str) -> None:
        """Refuse to start the change when too little is left to finish it before the deadline."""
        left = self.left_s()
        if left is None or self.total_s is None:
            return
        needed = min(CHANGE_BUDGET_S, self.total_s / 2)
        if left < needed:
            raise DeadlinePassed(
                f"only {max(left, 0):.0f} s of the runner's deadline were left before {what} "
                f"(it needs {needed:.0f} s); nothing was changed"
            )
