"""`marea decisions watch`: poll the decision log and print each new decision, and each new outcome, once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from marea_cli.client import ApiClient

MAX_PAGES_PER_POLL = 10  # 500 decisions between two polls; more and the oldest of them are skipped, not waited for


def _newest(client: ApiClient, query: dict[str, str], seen: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Decisions (newest first) down to the first page that holds only what was seen already."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES_PER_POLL):
        page = client.call("GET", "/decisions", query={**query, **({"cursor": cursor} if cursor else {})})
        decisions = page.get("decisions", [])
        found.extend(decisions)
        cursor = page.get("cursor")
        if not cursor or all((d["id"], d["outcome"]) in seen for d in decisions):
            break
    return found


def follow(
    client: ApiClient,
    target: str | None,
    interval_s: float,
    sleep: Callable[[float], None] = time.sleep,
    ready: Callable[[], None] = lambda: None,
) -> Iterator[dict[str, Any]]:
    """Yield, oldest first, each decision recorded (or whose outcome changed) after the first poll.

    ``ready`` is called once that first poll has marked what exists as seen: from then on nothing is missed.
    """
    query = {"limit": "50", **({"target": target} if target else {})}
    seen = {(d["id"], d["outcome"]) for d in _newest(client, query, set())}
    ready()
    while True:
        sleep(interval_s)
        fresh = [d for d in _newest(client, query, seen) if (d["id"], d["outcome"]) not in seen]
        for decision in reversed(fresh):
            seen.add((decision["id"], decision["outcome"]))
            yield decision
