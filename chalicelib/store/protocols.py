"""What the evaluator needs of the target registry and the decision log, whatever stores them.

Two implementations pass one contract test (tests/integration/test_store_contract.py): DynamoDB
(store/targets.py, store/decisions.py), used everywhere Marea runs, and memory (store/memory.py),
which gives the evaluator's lease, unsettled and supersede paths fast unit tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

# The runner's request: names and sizes (str and int values only, a DynamoDB map of S and N).
RunnerRequest = dict[str, str | int]

if TYPE_CHECKING:
    from chalicelib.models.decisions import Decision
    from chalicelib.models.state import StoredTarget, TargetState, Unsettled
    from chalicelib.models.targets import Target
    from chalicelib.store.decisions import DecisionQuery


class TargetStore(Protocol):
    def get(self, target_id: str) -> StoredTarget | None: ...

    def get_many(self, target_ids: Sequence[str]) -> dict[str, StoredTarget]:
        """The registered targets among these ids, by id (ids not registered are left out)."""
        ...

    def require(self, target_id: str) -> StoredTarget:
        """The target, or NotFoundError."""
        ...

    def by_alarm(self, alarm_name: str) -> list[StoredTarget]: ...

    def iter_all(self) -> Iterator[StoredTarget]: ...

    def put(self, target: Target) -> tuple[StoredTarget, bool]:
        """Create or replace a target, keeping its state. Returns (stored, created)."""
        ...

    def delete(self, target_id: str) -> None: ...

    def commit_evaluation(
        self,
        stored: StoredTarget,
        state: TargetState,
        decision: Decision,
        expires_at: int,
        *,
        mark: Unsettled | None = None,
        clear_mark: bool = False,
        dedup: str | None = None,
    ) -> StoredTarget:
        """Record a decision and the new state at once; DuplicateDecisionError, VersionConflictError."""
        ...

    def replace_state(self, stored: StoredTarget, state: TargetState) -> StoredTarget:
        """Write a state if the target is still at ``stored.version``; VersionConflictError otherwise."""
        ...

    def claim_actuation(self, stored: StoredTarget, decision_id: str, by: str) -> bool:
        """Claim, for evaluation ``by``, the call to the cloud for the unsettled ``decision_id``: True for
        exactly one claimer (and again for the same one)."""
        ...

    def settle_actuation(self, committed: StoredTarget, decision: Decision, state: TargetState | None) -> bool:
        """Record a pending decision's outcome and remove its Unsettled marker; False if it was closed."""
        ...


class DecisionStore(Protocol):
    def put_new(self, decision: Decision, expires_at: int, dedup: str | None = None) -> bool: ...

    def finalize_if_pending(self, decision: Decision) -> bool: ...

    def get(self, decision_id: str, *, consistent: bool = False) -> Decision | None: ...

    def get_by_dedup(self, dedup: str) -> Decision | None: ...

    def get_with_runner_result(self, decision_id: str) -> tuple[Decision, dict[str, Any] | None] | None: ...

    def attach_runner_request(self, decision_id: str, request: RunnerRequest) -> bool:
        """Write what the kops runner must do beside a decision (attribute ``runner_request``), only while it is
        pending; False when it is gone or closed. The runner reads it: its caller passes it nothing else."""
        ...

    def runner_request(self, decision_id: str) -> RunnerRequest | None: ...

    def annotate_closed(self, decision: Decision, key: str, note: str) -> bool: ...

    def query(self, query: DecisionQuery) -> tuple[list[Decision], str | None]: ...
