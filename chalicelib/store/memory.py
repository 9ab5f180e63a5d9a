"""The target registry and the decision log in memory: the same contract as the DynamoDB stores.

For fast unit tests of the evaluator (its lease, unsettled and supersede paths) and for anything
that wants Marea's semantics without tables. Not a stand-in for DynamoDB in integration tests:
those run on the embedded AWS. One lock makes each method atomic, as one transaction is.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.ids import id_lower_bound, id_upper_bound
from chalicelib.models.decisions import Decision, Outcome
from chalicelib.models.resources import scaled_resources
from chalicelib.models.state import StoredTarget, TargetState, Unsettled
from chalicelib.models.targets import Target
from chalicelib.store.decisions import DecisionQuery, check_cursor, decode_cursor, encode_cursor
from chalicelib.store.items import DECISION_LOG_PARTITION
from chalicelib.store.protocols import RunnerRequest
from chalicelib.store.targets import DuplicateDecisionError, VersionConflictError


@dataclass
class MemoryTables:
    """What both stores hold, shared as the two DynamoDB tables are."""

    targets: dict[str, StoredTarget] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    dedup: dict[str, str] = field(default_factory=dict)
    runner_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    runner_requests: dict[str, RunnerRequest] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def record_new(self, decision: Decision, dedup: str | None) -> bool:
        if decision.id in self.decisions or (dedup is not None and dedup in self.dedup):
            return False
        self.decisions[decision.id] = decision
        if dedup is not None:
            self.dedup[dedup] = decision.id
        return True

    def finalize(self, decision: Decision) -> bool:
        current = self.decisions.get(decision.id)
        if current is None or current.outcome is not Outcome.PENDING:
            return False
        self.decisions[decision.id] = decision
        return True


class MemoryTargetRegistry:
    def __init__(self, tables: MemoryTables) -> None:
        self._tables = tables

    def get(self, target_id: str) -> StoredTarget | None:
        return self._tables.targets.get(target_id)

    def get_many(self, target_ids: Sequence[str]) -> dict[str, StoredTarget]:
        return {i: stored for i in target_ids if (stored := self.get(i)) is not None}

    def require(self, target_id: str) -> StoredTarget:
        stored = self.get(target_id)
        if stored is None:
            raise NotFoundError(f"target {target_id!r} is not registered")
        return stored

    def by_alarm(self, alarm_name: str) -> list[StoredTarget]:
        return [s for s in self._sorted() if alarm_name in s.target.alarm_names]

    def iter_all(self) -> Iterator[StoredTarget]:
        return iter(self._sorted())

    def _sorted(self) -> list[StoredTarget]:
        with self._tables.lock:
            return [self._tables.targets[k] for k in sorted(self._tables.targets)]

    def put(self, target: Target) -> tuple[StoredTarget, bool]:
        with self._tables.lock:
            self._refuse_claimed(target)
            existing = self._tables.targets.get(target.id)
            stored = StoredTarget(
                target=target,
                state=existing.state if existing else TargetState(),
                version=(existing.version + 1) if existing else 1,
                unsettled=existing.unsettled if existing else None,
            )
            self._tables.targets[target.id] = stored
            return stored, existing is None

    def _refuse_claimed(self, target: Target) -> None:
        """One target per scaled resource (models/resources.py), as the DynamoDB registry's claims hold it."""
        wanted = set(scaled_resources(target))
        for other in self._tables.targets.values():
            if other.target.id == target.id:
                continue
            taken = sorted(wanted.intersection(scaled_resources(other.target)))
            if taken:
                raise ConflictError(f"{taken[0].label} is already scaled by target {other.target.id!r}")

    def delete(self, target_id: str) -> None:
        with self._tables.lock:
            self.require(target_id)
            del self._tables.targets[target_id]

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
        with self._tables.lock:
            if decision.id in self._tables.decisions or (dedup is not None and dedup in self._tables.dedup):
                raise DuplicateDecisionError(decision.id)
            self._check_version(stored)
            unsettled = mark if mark is not None else (None if clear_mark else stored.unsettled)
            new = StoredTarget(target=stored.target, state=state, version=stored.version + 1, unsettled=unsettled)
            self._tables.record_new(decision, dedup)
            self._tables.targets[stored.target.id] = new
            return new

    def replace_state(self, stored: StoredTarget, state: TargetState) -> StoredTarget:
        with self._tables.lock:
            self._check_version(stored)
            current = self._tables.targets[stored.target.id]
            new = current.model_copy(update={"state": state, "version": stored.version + 1})
            self._tables.targets[stored.target.id] = new
            return new

    def settle_actuation(self, committed: StoredTarget, decision: Decision, state: TargetState | None) -> bool:
        with self._tables.lock:
            if not self._tables.finalize(decision):
                return False
            current = self._tables.targets.get(committed.target.id)
            if current is None or current.unsettled is None or current.unsettled.decision_id != decision.id:
                return True  # the outcome is recorded on its own, as in DynamoDB
            if state is not None and current.version != committed.version:
                return True
            update: dict[str, Any] = {"unsettled": None}
            if state is not None:
                update |= {"state": state, "version": committed.version + 1}
            self._tables.targets[committed.target.id] = current.model_copy(update=update)
            return True

    def claim_actuation(self, stored: StoredTarget, decision_id: str, by: str) -> bool:
        with self._tables.lock:
            current = self._tables.targets.get(stored.target.id)
            marker = current.unsettled if current is not None else None
            if current is None or marker is None or marker.decision_id != decision_id:
                return False
            if marker.claimed_by not in (None, by):
                return False
            claimed = marker.model_copy(update={"claimed_by": by})
            self._tables.targets[stored.target.id] = current.model_copy(update={"unsettled": claimed})
            return True

    def _check_version(self, stored: StoredTarget) -> None:
        current = self._tables.targets.get(stored.target.id)
        if current is None or current.version != stored.version:
            raise VersionConflictError(stored.target.id)


class MemoryDecisionLog:
    def __init__(self, tables: MemoryTables) -> None:
        self._tables = tables

    def put_new(self, decision: Decision, expires_at: int, dedup: str | None = None) -> bool:
        with self._tables.lock:
            return self._tables.record_new(decision, dedup)

    def finalize_if_pending(self, decision: Decision) -> bool:
        with self._tables.lock:
            return self._tables.finalize(decision)

    def get(self, decision_id: str, *, consistent: bool = False) -> Decision | None:
        return self._tables.decisions.get(decision_id)

    def get_by_dedup(self, dedup: str) -> Decision | None:
        decision_id = self._tables.dedup.get(dedup)
        return self.get(decision_id) if decision_id is not None else None

    def get_with_runner_result(self, decision_id: str) -> tuple[Decision, dict[str, Any] | None] | None:
        decision = self.get(decision_id)
        return None if decision is None else (decision, self._tables.runner_results.get(decision_id))

    def record_runner_result(self, decision_id: str, result: dict[str, Any]) -> None:
        """What the kops runner writes beside its decision (the runner is not in this process)."""
        with self._tables.lock:
            if decision_id in self._tables.decisions:
                self._tables.runner_results[decision_id] = result

    def attach_runner_request(self, decision_id: str, request: RunnerRequest) -> bool:
        with self._tables.lock:
            current = self._tables.decisions.get(decision_id)
            if current is None or current.outcome is not Outcome.PENDING:
                return False
            self._tables.runner_requests[decision_id] = dict(request)
            return True

    def runner_request(self, decision_id: str) -> RunnerRequest | None:
        request = self._tables.runner_requests.get(decision_id)
        return None if request is None else dict(request)

    def annotate_closed(self, decision: Decision, key: str, note: str) -> bool:
        with self._tables.lock:
            current = self._tables.decisions.get(decision.id)
            if current is None or current.outcome is Outcome.PENDING or current.outcome is not decision.outcome:
                return False
            self._tables.decisions[decision.id] = decision.model_copy(update={"inputs": {**decision.inputs, key: note}})
            return True

    def query(self, query: DecisionQuery) -> tuple[list[Decision], str | None]:
        lower = id_lower_bound(query.since) if query.since else "0" * 26
        upper = id_upper_bound(query.until) if query.until else "Z" * 26
        partition, value = (
            ("target_id", query.target_id) if query.target_id is not None else ("log_partition", DECISION_LOG_PARTITION)
        )
        if query.cursor:
            start = decode_cursor(query.cursor)
            check_cursor(start, partition, value, lower, upper)
            upper = min(upper, start["id"]["S"])
        with self._tables.lock:
            matching = sorted(
                (
                    d
                    for d in self._tables.decisions.values()
                    if lower <= d.id <= upper
                    and not (query.cursor and d.id == upper)
                    and (query.target_id is None or d.target_id == query.target_id)
                    and (query.outcome is None or d.outcome is query.outcome)
                ),
                key=lambda d: d.id,
                reverse=True,
            )
        page = matching[: query.limit]
        more = len(matching) > query.limit
        cursor = encode_cursor({"id": {"S": page[-1].id}, partition: {"S": value}}) if more and page else None
        return page, cursor
