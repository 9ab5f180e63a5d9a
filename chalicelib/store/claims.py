"""Resource claims: one item per scaled resource in the targets table, naming the target that scales it.

A target's claims are written in the transaction that writes the target, each conditioned on the
resource being unclaimed or claimed by this same target: of two targets racing for one resource,
DynamoDB lets exactly one transaction through. Claim items carry no ``listing`` attribute, so the
listing index never sees them, and no alarm or target key (``R#...``), so no target query does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.models.resources import ScaledResource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CLAIM_SK = "CLAIM"
_FREE_OR_MINE = "attribute_not_exists(pk) OR target_id = :t"


def claim_key(resource: ScaledResource) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"R#{resource.key}"}, "sk": {"S": CLAIM_SK}}


def claim_put(table: str, resource: ScaledResource, target_id: str) -> dict[str, Any]:
    """Transaction item: ``target_id`` claims ``resource`` unless another target holds it."""
    item = {**claim_key(resource), "target_id": {"S": target_id}, "resource": {"S": resource.label}}
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": _FREE_OR_MINE,
            "ExpressionAttributeValues": {":t": {"S": target_id}},
        }
    }


def claim_release(table: str, resource: ScaledResource, target_id: str) -> dict[str, Any]:
    """Transaction item: ``target_id`` lets go of ``resource`` (a no-op when it held no claim there)."""
    return {
        "Delete": {
            "TableName": table,
            "Key": claim_key(resource),
            "ConditionExpression": _FREE_OR_MINE,
            "ExpressionAttributeValues": {":t": {"S": target_id}},
        }
    }


def claim_holder(client: DynamoDBClient, table: str, resource: ScaledResource) -> str | None:
    """The id of the target that claims ``resource``, or None."""
    item = client.get_item(TableName=table, Key=claim_key(resource), ConsistentRead=True).get("Item")
    return item["target_id"]["S"] if item else None
