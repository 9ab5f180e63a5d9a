"""One contract, two stores: the DynamoDB registry and log (on the embedded AWS) and the in-memory ones.

The evaluator's fast unit tests run on the in-memory stores; this is what makes them stand for DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.ids import decision_id
from chalicelib.models.decisions import Action, Decision, Outcome, Trigger, TriggerType
from chalicelib.models.signals import TargetHistory
from chalicelib.models.state import TargetState, Unsettled
from chalicelib.models.targets import Mode
from chalicelib.store.decisions import DecisionQuery
from chalicelib.store.items import TARGET_ADAPTER
from chalicelib.store.memory import MemoryDecisionLog, MemoryTables, MemoryTargetRegistry
from chalicelib.store.protocols import DecisionStore, TargetStore
from chalicelib.store.targets import DuplicateDecisionError, VersionConflictError

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EXPIRES = int((NOW + timedelta(days=1)).timestamp())


@pytest.fixture(params=["memory", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[TargetStore, DecisionStore]]:
    if request.param == "memory":
        tables = MemoryTables()
        yield MemoryTargetRegistry(tables), MemoryDecisionLog(tables)
        return
    request.getfixturevalue("data_stack")
    from chalicelib import wiring

    yield wiring.registry(), wiring.decision_log()


def target(target_id: str = "web", **overrides: Any) -> Any:
    body = {"id": target_id, "kind": "asg", "asg_name": target_id, "min": 1, "max": 10, "mode": "act", **overrides}
    return TARGET_ADAPTER.validate_python(body)


def decision(target_id: str = "web", at: datetime = NOW, outcome: Outcome = Outcome.PENDING) -> Decision:
    return Decision(
        id=decision_id(at),
        target_id=target_id,
        target_kind="asg",
        trigger=Trigger(type=TriggerType.ALARM, event_id="e", at=at),
        mode=Mode.ACT,
        current=2,
        proposed=4,
        final=4,
        action=Action.OUT,
        policy="cpu",
        outcome=outcome,
        reasons=[],
        explanation="Scale out from 2 to 4.",
        policy_results=[],
        created_at=at,
    )


STEP = {"type": "step", "name": "burst", "alarm_name": "high", "adjustment_type": "change_in_capacity",
        "steps": [{"lower_bound": 0, "adjustment": 1}]}  # fmt: skip


def test_targets_are_created_replaced_listed_found_by_alarm_and_deleted(stores: Any) -> None:
    registry, _ = stores
    assert registry.put(target())[1] is True
    stored, created = registry.put(target(max=12, policies=[STEP]))
    assert (created, stored.version, stored.target.max) == (False, 2, 12)
    registry.put(target("api"))
    assert [s.target.id for s in registry.iter_all()] == ["api", "web"]
    assert [s.target.id for s in registry.by_alarm("high")] == ["web"]
    assert registry.get("nope") is None
    assert {i: s.target.max for i, s in registry.get_many(["web", "nope", "api", "web"]).items()} == {
        "web": 12,
        "api": 10,
    }
    registry.delete("api")
    assert registry.get("api") is None
    with pytest.raises(NotFoundError):
        registry.delete("api")


def test_one_target_per_scaled_resource(stores: Any) -> None:
    registry, _ = stores
    registry.put(target("a", asg_name="web"))
    with pytest.raises(ConflictError, match="Auto Scaling group 'web' is already scaled by target 'a'"):
        registry.put(target("b", asg_name="web"))
    assert registry.get("b") is None
    registry.delete("a")
    registry.put(target("b", asg_name="web"))  # free again


def test_a_commit_records_the_decision_and_the_state_once_and_only_on_the_version_read(stores: Any) -> None:
    registry, log = stores
    stored, _ = registry.put(target())
    first = decision()
    state = TargetState(history=TargetHistory(), last_decision_id=first.id)

    committed = registry.commit_evaluation(stored, state, first, EXPIRES, dedup="E#one")

    assert (committed.version, committed.state.last_decision_id) == (2, first.id)
    assert log.get(first.id) == first
    assert log.get_by_dedup("E#one") == first
    with pytest.raises(DuplicateDecisionError):  # the same event again, under another id
        registry.commit_evaluation(committed, state, decision(at=NOW + timedelta(seconds=1)), EXPIRES, dedup="E#one")
    late = decision(at=NOW + timedelta(seconds=2))
    with pytest.raises(VersionConflictError):  # the version first read is gone
        registry.commit_evaluation(stored, state, late, EXPIRES, dedup="E#two")
    assert log.get(late.id) is None
    with pytest.raises(VersionConflictError):
        registry.replace_state(stored, state)


def test_an_unsettled_mark_is_claimed_once_and_removed_with_the_outcome(stores: Any) -> None:
    registry, log = stores
    stored, _ = registry.put(target())
    acting = decision()
    mark = Unsettled(decision_id=acting.id, since=NOW, dedup="E#one")
    committed = registry.commit_evaluation(stored, TargetState(), acting, EXPIRES, mark=mark, dedup="E#one")
    found = registry.require("web").unsettled
    assert (found.decision_id, found.claimed, found.dedup) == (acting.id, False, "E#one")

    assert [registry.claim_actuation(committed, acting.id, by=b) for b in ("me", "me", "other")] == [True, True, False]
    assert registry.require("web").unsettled.claimed is True

    applied = acting.model_copy(update={"outcome": Outcome.APPLIED})
    assert registry.settle_actuation(committed, applied, None) is True
    assert registry.require("web").unsettled is None
    assert log.get(acting.id).outcome == "applied"
    assert registry.settle_actuation(committed, applied, None) is False  # closed already
    assert registry.claim_actuation(committed, acting.id, by="me") is False  # no mark left to claim


def test_decisions_are_recorded_once_closed_once_and_noted_after(stores: Any) -> None:
    _, log = stores
    pending = decision()
    assert log.put_new(pending, EXPIRES, "E#one") is True
    assert log.put_new(decision(at=NOW + timedelta(seconds=1)), EXPIRES, "E#one") is False
    assert log.annotate_closed(pending, "note", "x") is False  # pending: not a closed decision
    applied = pending.model_copy(update={"outcome": Outcome.APPLIED})
    assert log.finalize_if_pending(applied) is True
    assert log.finalize_if_pending(applied.model_copy(update={"outcome": Outcome.FAILED})) is False
    assert log.annotate_closed(applied, "late_completion", "after its lease") is True
    assert log.get(pending.id).inputs["late_completion"] == "after its lease"
    assert log.get(pending.id).outcome == "applied"


def test_the_log_pages_newest_first_by_target_and_outcome(stores: Any) -> None:
    _, log = stores
    made = [decision("web" if i % 2 else "api", NOW + timedelta(seconds=i), Outcome.SKIPPED) for i in range(7)]
    for d in made:
        log.put_new(d, EXPIRES)
    pages, cursor = [], None
    while True:
        page, cursor = log.query(DecisionQuery(target_id="web", limit=2, cursor=cursor))
        pages.append([d.id for d in page])
        if cursor is None:
            break
    assert [i for page in pages for i in page] == [d.id for d in reversed(made) if d.target_id == "web"]
    assert all(len(page) == 2 for page in pages[:-1])
    assert log.query(DecisionQuery(outcome=Outcome.APPLIED))[0] == []
    assert len(log.query(DecisionQuery(outcome=Outcome.SKIPPED, limit=50))[0]) == 7


def test_an_api_write_never_turns_a_claimed_mark_back_into_an_unclaimed_one(stores: Any) -> None:
    """A write of the target keeps a claim made before it; one made after it was read refuses the write
    (on DynamoDB, where the claim does not move the version), so no second evaluation may act again."""
    registry, _ = stores
    stored, _ = registry.put(target())
    acting = decision()
    mark = Unsettled(decision_id=acting.id, since=NOW, dedup="E#one")
    committed = registry.commit_evaluation(stored, TargetState(), acting, EXPIRES, mark=mark, dedup="E#one")
    read_before_the_claim = registry.require("web")
    assert registry.claim_actuation(committed, acting.id, by="me")

    if hasattr(registry, "write"):  # the DynamoDB registry's conditional write (PATCH, If-Match)
        with pytest.raises(ConflictError):
            registry.write(target(max=12), over=read_before_the_claim)
    registry.put(target(max=12))

    assert registry.require("web").unsettled.claimed_by == "me"
    assert registry.claim_actuation(committed, acting.id, by="other") is False


def test_a_runner_request_is_attached_only_to_a_pending_decision(stores: Any) -> None:
    _, log = stores
    pending, closed = decision(), decision(at=NOW + timedelta(seconds=1), outcome=Outcome.APPLIED)
    log.put_new(pending, EXPIRES)
    log.put_new(closed, EXPIRES)
    request = {"target_kind": "kops", "cluster": "k8s.example.com", "min_size": 3, "max_size": 5}

    assert log.attach_runner_request(pending.id, request) is True
    assert log.runner_request(pending.id) == request
    assert log.attach_runner_request(pending.id, {**request, "max_size": 6}) is True  # a relaunch replaces it
    assert log.runner_request(pending.id) == {**request, "max_size": 6}
    assert log.attach_runner_request(closed.id, request) is False
    assert log.runner_request(closed.id) is None
    assert log.attach_runner_request(decision_id(NOW + timedelta(seconds=2)), request) is False  # never creates one
    assert log.get(pending.id) == pending  # the decision itself is unchanged
