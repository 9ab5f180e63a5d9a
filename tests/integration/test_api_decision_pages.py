"""GET /decisions pages through the real API on the embedded AWS: full pages under every filter, opaque cursors.

Decisions are written with the decision log itself (the evaluations that make them are tested
elsewhere); every read goes through the HTTP API.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from chalicelib.ids import decision_id
from chalicelib.models.decisions import Action, Decision, Outcome, Trigger, TriggerType
from chalicelib.models.targets import Mode
from chalicelib.store.items import decision_item
from marea_local.data_stack import DataStack

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TARGETS = ("web", "chat")
BATCH_WRITE_MAX = 25  # items per BatchWriteItem call
# Mixed, irregular outcomes: a filter keeps runs of very different lengths, as a real log does.
OUTCOME_WEIGHTS = {Outcome.SKIPPED: 6, Outcome.APPLIED: 2, Outcome.RECOMMENDED: 1, Outcome.FAILED: 1}


def decision(target_id: str, outcome: Outcome, at: datetime) -> Decision:
    return Decision(
        id=decision_id(at),
        target_id=target_id,
        target_kind="asg",
        trigger=Trigger(type=TriggerType.SCHEDULE, at=at),
        mode=Mode.ACT,
        current=2,
        proposed=2,
        final=2,
        action=Action.NONE,
        policy=None,
        outcome=outcome,
        reasons=[],
        explanation="Hold at 2.",
        policy_results=[],
        created_at=at,
    )


@pytest.fixture
def log(client: Any, data_stack: DataStack) -> list[Decision]:
    """150 decisions, one a minute, of two targets and mixed outcomes; returned newest first.

    Written as DecisionStore.put_new writes them (its item, store/items.py decision_item), 25 a BatchWriteItem: the
    pages are what these tests read, and 150 transactions took 2 s of every test's set-up.
    """
    rng = random.Random(12)
    outcomes, weights = list(OUTCOME_WEIGHTS), list(OUTCOME_WEIGHTS.values())
    written = []
    for minute in range(150):
        outcome = rng.choices(outcomes, weights)[0]
        written.append(decision(rng.choice(TARGETS), outcome, START + timedelta(minutes=minute)))
    dynamodb: Any = boto3.client("dynamodb")
    for first in range(0, len(written), BATCH_WRITE_MAX):
        puts = [
            {"PutRequest": {"Item": decision_item(d, 2_000_000_000)}} for d in written[first : first + BATCH_WRITE_MAX]
        ]
        response = dynamodb.batch_write_item(RequestItems={data_stack.decisions_table: puts})
        assert not response["UnprocessedItems"]
    return sorted(written, key=lambda d: d.id, reverse=True)


def read_all(client: Any, query: str) -> list[list[str]]:
    """Every page of a query, following the cursor; the ids of each page."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        suffix = f"&cursor={quote(cursor)}" if cursor else ""
        response = client.http.get(f"/decisions?{query}{suffix}")
        assert response.status_code == 200, response.json_body
        body = response.json_body
        pages.append([d["id"] for d in body["decisions"]])
        cursor = body["cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("outcome=applied&limit=7", lambda d: d.outcome is Outcome.APPLIED),
        ("outcome=skipped&limit=20", lambda d: d.outcome is Outcome.SKIPPED),
        ("target=web&outcome=applied&limit=4", lambda d: d.target_id == "web" and d.outcome is Outcome.APPLIED),
        ("target=chat&outcome=failed&limit=2", lambda d: d.target_id == "chat" and d.outcome is Outcome.FAILED),
        ("target=web&limit=15", lambda d: d.target_id == "web"),
        ("limit=40", lambda d: True),
        (
            "outcome=skipped&limit=6&since=2026-03-02T08:30:00Z&until=2026-03-02T09:30:00Z",
            lambda d: d.outcome is Outcome.SKIPPED and "08:30" <= d.created_at.strftime("%H:%M") <= "09:30",
        ),
    ],
)
def test_every_page_but_the_last_is_full_and_together_they_hold_each_match_once_newest_first(
    client: Any, log: list[Decision], query: str, keep: Any
) -> None:
    limit = int(next(part for part in query.split("&") if part.startswith("limit="))[6:])
    expected = [d.id for d in log if keep(d)]
    assert len(expected) > 3 * limit  # more than three pages

    pages = read_all(client, query)

    assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert 0 < len(pages[-1]) <= limit  # the cursor ends with the last match, not on an empty page
    assert [i for page in pages for i in page] == expected


def test_an_empty_result_is_one_empty_page(client: Any, log: list[Decision]) -> None:
    assert read_all(client, "target=nobody&outcome=applied") == [[]]
    assert read_all(client, "outcome=pending") == [[]]


def cursor_of(client: Any, query: str) -> str:
    cursor: str = client.http.get(f"/decisions?{query}").json_body["cursor"]
    assert cursor
    return cursor


@pytest.mark.parametrize(
    ("issued_for", "used_for"),
    [
        ("outcome=applied&limit=2", "outcome=skipped&limit=2"),
        ("outcome=applied&limit=2", "target=web&outcome=applied&limit=2"),
        ("target=web&outcome=applied&limit=2", "target=chat&outcome=applied&limit=2"),
        ("target=web&outcome=applied&limit=2", "target=web&limit=2"),
        ("target=web&limit=2", "target=web&outcome=applied&limit=2"),
        ("limit=2", "outcome=applied&limit=2"),
        ("outcome=applied&limit=2", "limit=2"),
        ("outcome=applied&limit=2", "outcome=applied&limit=2&until=2026-03-02T08:00:00Z"),
    ],
)
def test_a_cursor_of_one_query_is_refused_on_another(
    client: Any, log: list[Decision], issued_for: str, used_for: str
) -> None:
    response = client.http.get(f"/decisions?{used_for}&cursor={quote(cursor_of(client, issued_for))}")
    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] == "BAD_REQUEST"
    assert "cursor" in response.json_body["message"]


def test_a_pending_decision_moves_to_its_outcome_under_every_filter(client: Any) -> None:
    from chalicelib import wiring

    pending = decision("web", Outcome.PENDING, START)
    wiring.decision_log().put_new(pending, expires_at=2_000_000_000)
    assert read_all(client, "target=web&outcome=pending") == [[pending.id]]

    wiring.decision_log().finalize(pending.model_copy(update={"outcome": Outcome.APPLIED}))

    assert read_all(client, "target=web&outcome=pending") == [[]]
    assert read_all(client, "outcome=pending") == [[]]
    assert read_all(client, "target=web&outcome=applied") == [[pending.id]]
    assert read_all(client, "outcome=applied") == [[pending.id]]


def test_decisions_recorded_before_the_outcome_indexes_are_found_after_the_upgrade(
    client: Any, clients: dict[str, Any], data_stack: Any
) -> None:
    """An older Marea wrote decisions without `target_outcome`; infra/upgrade.py gives them their key."""
    import subprocess
    import sys
    from pathlib import Path

    from chalicelib.store.items import TARGET_OUTCOME, decision_item

    old = [decision("web", outcome, START + timedelta(minutes=i)) for i, outcome in enumerate(Outcome)]
    for made in old:
        item = decision_item(made, 2_000_000_000)
        del item[TARGET_OUTCOME]
        clients["dynamodb"].put_item(TableName=data_stack.decisions_table, Item=item)
    assert read_all(client, "target=web&outcome=applied") == [[]]
    assert read_all(client, "outcome=applied") == [[old[1].id]]  # `outcome` was always there

    root = Path(__file__).resolve().parents[2]
    upgrade = [sys.executable, str(root / "infra" / "upgrade.py"), "--stage", "test"]
    first = subprocess.run(upgrade, capture_output=True, text=True, check=True)  # noqa: S603 - our own script
    again = subprocess.run(upgrade, capture_output=True, text=True, check=True)  # noqa: S603 - our own script

    assert f"{data_stack.decisions_table}: {len(old)} decisions" in first.stdout
    assert f"{data_stack.decisions_table}: 0 decisions" in again.stdout
    for made in old:
        assert read_all(client, f"target=web&outcome={made.outcome.value}") == [[made.id]]
