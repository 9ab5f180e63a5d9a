"""Decision log in DynamoDB: Query/GetItem only (never Scan), newest first, opaque cursors."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.errors import BadRequestError
from chalicelib.ids import id_lower_bound, id_upper_bound
from chalicelib.models.decisions import Decision, Outcome
from chalicelib.store.items import (
    DECISION_LOG_PARTITION,
    TARGET_OUTCOME,
    decision_from_item,
    decision_item,
    dedup_item,
    target_outcome,
)
from chalicelib.store.protocols import RunnerRequest
from chalicelib.store.transactions import TransactionCancelled, write_transaction

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_CURSOR_KEYS = {"id", "target_id", "log_partition", "outcome", TARGET_OUTCOME}
# DynamoDB pages (at most 1 MB each) read per API call to fill one; bounds the work of one request.
_MAX_PAGES_PER_REQUEST = 20


@dataclass(frozen=True)
class DecisionQuery:
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: Outcome | None = None
    limit: int = 50
    cursor: str | None = None


class DecisionLog:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def put_new(self, decision: Decision, expires_at: int, dedup: str | None = None) -> bool:
        """Record a decision unless it exists already (its id, or ``dedup`` for an event's evaluation).

        Returns False for a duplicate.
        """
        items = new_decision_puts(self._table, decision, expires_at, dedup)
        try:
            write_transaction(self._client, items)
        except TransactionCancelled as exc:
            if any(exc.condition_failed(index) for index in range(len(items))):
                return False
            raise
        return True

    def get_by_dedup(self, dedup: str) -> Decision | None:
        """The decision an event's evaluation recorded under ``dedup`` (ids.dedup_key), if any."""
        response = self._client.get_item(TableName=self._table, Key={"id": {"S": dedup}}, ConsistentRead=True)
        item = response.get("Item")
        if not item or "decision_id" not in item:
            return None
        return self.get(item["decision_id"]["S"], consistent=True)

    def annotate_closed(self, decision: Decision, key: str, note: str) -> bool:
        """Add a note under ``inputs[key]`` to a decision already closed, keeping its outcome.

        For what arrives after a decision closed (a runner's completion after its lease passed).
        Returns False when the decision is gone or pending, or its outcome changed since it was read.
        """
        noted = decision.model_copy(update={"inputs": {**decision.inputs, key: note}})
        return self._update_if(
            TableName=self._table,
            Key={"id": {"S": decision.id}},
            UpdateExpression="SET doc = :doc",
            ConditionExpression="outcome = :o AND outcome <> :pending",
            ExpressionAttributeValues={
                ":doc": {"S": noted.model_dump_json()},
                ":o": {"S": decision.outcome.value},
                ":pending": {"S": Outcome.PENDING.value},
            },
        )

    def _update_if(self, **update: Any) -> bool:
        """A conditional UpdateItem: False when its condition no longer holds, any other error raised."""
        try:
            self._client.update_item(**update)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def finalize(self, decision: Decision) -> None:
        """Replace a pending decision with its outcome (only a pending one: never rewrite history)."""
        self._client.update_item(**outcome_update(self._table, decision)["Update"])

    def finalize_if_pending(self, decision: Decision) -> bool:
        """``finalize`` that returns False instead of raising when the decision is no longer pending."""
        return self._update_if(**outcome_update(self._table, decision)["Update"])

    def get_with_runner_result(self, decision_id: str) -> tuple[Decision, dict[str, Any] | None] | None:
        """A decision and the outcome its kops runner wrote beside it (attribute ``runner_result``)."""
        response = self._client.get_item(TableName=self._table, Key={"id": {"S": decision_id}}, ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        raw = item.get("runner_result", {}).get("S")
        try:
            runner = json.loads(raw) if raw else None
        except ValueError:
            runner = {"status": "unreadable", "message": "the runner wrote a result that is not JSON"}
        return decision_from_item(item), runner if isinstance(runner, dict) else None  # type: ignore[arg-type]

    def attach_runner_request(self, decision_id: str, request: RunnerRequest) -> bool:
        return self._update_if(
            TableName=self._table,
            Key={"id": {"S": decision_id}},
            UpdateExpression="SET runner_request = :request",
            ConditionExpression="outcome = :pending",
            ExpressionAttributeValues={
                ":request": {"M": runner_request_map(request)},
                ":pending": {"S": Outcome.PENDING.value},
            },
        )

    def runner_request(self, decision_id: str) -> RunnerRequest | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"id": {"S": decision_id}},
            ConsistentRead=True,
            ProjectionExpression="runner_request",
        )
        stored = response.get("Item", {}).get("runner_request", {}).get("M")
        if stored is None:
            return None
        return {name: value["S"] if "S" in value else int(value["N"]) for name, value in stored.items()}

    def get(self, decision_id: str, *, consistent: bool = False) -> Decision | None:
        response = self._client.get_item(
            TableName=self._table, Key={"id": {"S": decision_id}}, ConsistentRead=consistent
        )
        item = response.get("Item")
        return decision_from_item(item) if item else None  # type: ignore[arg-type]

    def query(self, query: DecisionQuery) -> tuple[list[Decision], str | None]:
        """One page of decisions, newest first, and the cursor of the next page (None after the last match).

        Each filter has an index keyed by exactly what it selects, so no FilterExpression ever
        discards items: a page holds ``limit`` decisions unless it is the last one.
        """
        index = _index_for(query)
        lower = id_lower_bound(query.since) if query.since else "0" * 26
        upper = id_upper_bound(query.until) if query.until else "Z" * 26
        start_key = decode_cursor(query.cursor) if query.cursor else None
        if start_key is not None:
            check_cursor(start_key, index.partition, index.value, lower, upper)
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index.name,
            "KeyConditionExpression": f"{index.partition} = :p AND id BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":p": {"S": index.value}, ":lo": {"S": lower}, ":hi": {"S": upper}},
            "ScanIndexForward": False,
        }
        # One decision more than the page: whether it exists says if there is a next page, so the
        # cursor never leads to an empty one.
        items, last_key = self._read(arguments, start_key, wanted=query.limit + 1, from_cursor=bool(query.cursor))
        if len(items) > query.limit:
            items = items[: query.limit]
            last_key = {name: items[-1][name] for name in ("id", index.partition)}
        decisions = [decision_from_item(item) for item in items]
        return decisions, encode_cursor(last_key) if last_key else None

    def _read(
        self, arguments: dict[str, Any], start_key: dict[str, Any] | None, *, wanted: int, from_cursor: bool
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Up to ``wanted`` items from ``start_key`` on, and the key to go on from (None at the end).

        A Query page stops at ``Limit`` items or 1 MB, whichever comes first: read on until ``wanted``.
        """
        items: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES_PER_REQUEST):
            page_args = {**arguments, "Limit": wanted - len(items)}
            if start_key:
                page_args["ExclusiveStartKey"] = start_key
            try:
                page = self._client.query(**page_args)
            except ClientError as exc:
                if from_cursor and exc.response["Error"]["Code"] == "ValidationException":
                    raise BadRequestError("cursor is not one this API returned for this query") from exc
                raise
            items.extend(page.get("Items", []))
            start_key = page.get("LastEvaluatedKey")
            if not start_key or len(items) >= wanted:
                break
        return items, start_key

    def add_missing_index_keys(self) -> int:
        """Give decisions recorded before the by_target_outcome index existed their key (infra/upgrade.py).

        One pass over the log; returns how many decisions it updated. A decision whose outcome
        changed meanwhile got its key from that change and is left alone.
        """
        updated = 0
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            IndexName="by_time",
            KeyConditionExpression="log_partition = :p",
            ProjectionExpression="id, target_id, outcome, #to",
            ExpressionAttributeNames={"#to": TARGET_OUTCOME},
            ExpressionAttributeValues={":p": {"S": DECISION_LOG_PARTITION}},
        )
        for item in (item for page in pages for item in page.get("Items", []) if TARGET_OUTCOME not in item):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"id": item["id"]},
                    UpdateExpression="SET #to = :to",
                    ConditionExpression="attribute_not_exists(#to) AND outcome = :o",
                    ExpressionAttributeNames={"#to": TARGET_OUTCOME},
                    ExpressionAttributeValues={
                        ":to": {"S": target_outcome(item["target_id"]["S"], item["outcome"]["S"])},
                        ":o": item["outcome"],
                    },
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            updated += 1
        return updated


@dataclass(frozen=True)
class _Index:
    """The index that serves a query's filters, and the partition it reads (infra/marea-data.yaml)."""

    name: str
    partition: str  # the index's partition-key attribute
    value: str


def _index_for(query: DecisionQuery) -> _Index:
    if query.target_id is not None and query.outcome is not None:
        return _Index("by_target_outcome", TARGET_OUTCOME, target_outcome(query.target_id, query.outcome.value))
    if query.outcome is not None:
        return _Index("by_outcome", "outcome", query.outcome.value)
    if query.target_id is not None:
        return _Index("by_target", "target_id", query.target_id)
    return _Index("by_time", "log_partition", DECISION_LOG_PARTITION)


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps({name: value["S"] for name, value in key.items()}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def check_cursor(key: dict[str, Any], partition: str, value: str, lower: str, upper: str) -> None:
    """DynamoDB refuses a start key of another index, partition or range: a 400 here, never a 500 there."""
    if set(key) != {"id", partition} or key[partition]["S"] != value or not lower <= key["id"]["S"] <= upper:
        raise BadRequestError("cursor is not one this API returned for this query (same target and time range)")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """Decode a cursor from an untrusted client; anything odd is a 400, never a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise BadRequestError("cursor is not one this API returned") from exc
    if (
        not isinstance(data, dict)
        or not data
        or not set(data) <= _CURSOR_KEYS
        or not all(isinstance(v, str) and 0 < len(v) <= 300 for v in data.values())
    ):
        raise BadRequestError("cursor is not one this API returned")
    return {name: {"S": value} for name, value in data.items()}


def new_decision_puts(table: str, decision: Decision, expires_at: int, dedup: str | None) -> list[dict[str, Any]]:
    """Transaction items recording a new decision: its dedup key first (when an event caused it), then itself."""
    puts: list[dict[str, Any]] = []
    if dedup is not None:
        puts.append(
            {
                "Put": {
                    "TableName": table,
                    "Item": dedup_item(dedup, decision.id, expires_at),
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            }
        )
    puts.append(
        {
            "Put": {
                "TableName": table,
                "Item": decision_item(decision, expires_at),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }
    )
    return puts


def outcome_update(table: str, decision: Decision) -> dict[str, Any]:
    """A pending decision's outcome, as a transaction item (only a pending one: never rewrite history)."""
    return {
        "Update": {
            "TableName": table,
            "Key": {"id": {"S": decision.id}},
            # The index keys follow the outcome: the decision moves from the pending partitions to its own.
            "UpdateExpression": f"SET doc = :doc, outcome = :o, {TARGET_OUTCOME} = :to",
            "ConditionExpression": "outcome = :pending",
            "ExpressionAttributeValues": {
                ":doc": {"S": decision.model_dump_json()},
                ":o": {"S": decision.outcome.value},
                ":to": {"S": target_outcome(decision.target_id, decision.outcome.value)},
                ":pending": {"S": Outcome.PENDING.value},
            },
        }
    }


def runner_request_map(request: RunnerRequest) -> dict[str, Any]:
    """The runner's request as a DynamoDB map: text as S, sizes as N (the runner reads it with GetItem)."""
    return {name: {"N": str(value)} if isinstance(value, int) else {"S": value} for name, value in request.items()}
