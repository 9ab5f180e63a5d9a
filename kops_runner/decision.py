"""The decision the runner was started for, read from Marea's decision log: its `runner_request` is the runner's
whole request. Only a pending decision of a kops target is run; anything else changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kops_runner.errors import BadRequest
from kops_runner.settings import DecisionRequest, problems

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING = "pending"


def read_request(dynamodb: DynamoDBClient, table: str, decision_id: str) -> DecisionRequest:
    item: Any = dynamodb.get_item(TableName=table, Key={"id": {"S": decision_id}}, ConsistentRead=True).get("Item")
    if not item:
        raise BadRequest(f"decision {decision_id} does not exist in {table}")
    outcome = item.get("outcome", {}).get("S")
    if outcome != PENDING:
        raise BadRequest(f"decision {decision_id} is {outcome or 'not a decision'}, not {PENDING}: nothing to run")
    stored = item.get("runner_request", {}).get("M")
    if not stored:
        raise BadRequest(f"decision {decision_id} carries no runner_request")
    values = {name: value.get("S", value.get("N")) for name, value in stored.items()}
    try:
        return DecisionRequest.model_validate(values)
    except ValidationError as error:
        raise BadRequest(f"decision {decision_id} has an invalid runner_request: {problems(error)}") from error
