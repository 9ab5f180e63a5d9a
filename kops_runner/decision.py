"""The decision the runner was started for, read from Marea's decision log: its `runner_request` is the runner's
whole request. Only a pending decision of a kops target is run, by one task only; anything else changes nothing.

Any holder of Marea's role can start the runner with a pending decision's id (and can write such a decision):
the claim makes each decision single-use, so a second task started for it, in parallel or later, runs nothing
and cannot overwrite the first one's `runner_result`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kops_runner.errors import BadRequest
from kops_runner.outcome import CLAIM_ATTRIBUTE
from kops_runner.settings import DecisionRequest, problems

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING = "pending"


def read_pending(dynamodb: DynamoDBClient, table: str, decision_id: str) -> dict[str, Any]:
    """The stored `runner_request` of a pending decision, as DynamoDB holds it; BadRequest otherwise."""
    item: Any = dynamodb.get_item(TableName=table, Key={"id": {"S": decision_id}}, ConsistentRead=True).get("Item")
    if not item:
        raise BadRequest(f"decision {decision_id} does not exist in {table}")
    outcome = item.get("outcome", {}).get("S")
    if outcome != PENDING:
        raise BadRequest(f"decision {decision_id} is {outcome or 'not a decision'}, not {PENDING}: nothing to run")
    stored: dict[str, Any] = item.get("runner_request", {}).get("M") or {}
    return stored


def claim(dynamodb: DynamoDBClient, table: str, decision_id: str, task_arn: str) -> None:
    """Make ``task_arn`` the one task that runs the decision, while it is pending; BadRequest when another holds it.

    The same task may claim again (a retried call whose first answer was lost). The condition names only the key
    and the claim, the attributes the role may touch (dynamodb:Attributes); pending was read just before."""
    from botocore.exceptions import ClientError

    try:
        dynamodb.update_item(
            TableName=table,
            Key={"id": {"S": decision_id}},
            UpdateExpression="SET #claim = :task",
            ConditionExpression="attribute_exists(id) AND (attribute_not_exists(#claim) OR #claim = :task)",
            ExpressionAttributeNames={"#claim": CLAIM_ATTRIBUTE},
            ExpressionAttributeValues={":task": {"S": task_arn}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise BadRequest(
            f"decision {decision_id} is already claimed by another runner task: a decision is run by one task only"
        ) from error


def parse_request(decision_id: str, stored: dict[str, Any]) -> DecisionRequest:
    """The runner's request from a decision's stored `runner_request`; BadRequest if missing or invalid."""
    if not stored:
        raise BadRequest(f"decision {decision_id} carries no runner_request")
    values = {name: value.get("S", value.get("N")) for name, value in stored.items()}
    try:
        return DecisionRequest.model_validate(values)
    except ValidationError as error:
        raise BadRequest(f"decision {decision_id} has an invalid runner_request: {problems(error)}") from error
