"""DynamoDB transactions and why one was cancelled, read in one place."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CONDITION_FAILED = "ConditionalCheckFailed"


class TransactionCancelled(Exception):
    """A transaction refused as a whole; ``codes`` holds one cancellation code per item, in order
    ("None" for an item that did not cause it, ``CONDITION_FAILED`` for a failed condition)."""

    def __init__(self, codes: Sequence[str]) -> None:
        super().__init__(", ".join(codes) or "no reasons given")
        self.codes = tuple(codes)

    def condition_failed(self, index: int) -> bool:
        """Whether the item at ``index`` failed its condition."""
        return index < len(self.codes) and self.codes[index] == CONDITION_FAILED


def write_transaction(client: DynamoDBClient, items: Sequence[Any]) -> None:
    """TransactWriteItems; a cancelled transaction raises TransactionCancelled, other errors pass."""
    try:
        client.transact_write_items(TransactItems=list(items))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = exc.response.get("CancellationReasons", [])
        raise TransactionCancelled([str(reason.get("Code", "None")) for reason in reasons]) from exc
