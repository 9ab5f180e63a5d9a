"""The runner's outcome: one JSON line on stdout and the decision record's `runner_result`.

The JSON shape, the statuses and the exit codes are the contract with Marea's ECS Task State
Change handler, which reads the container's exit code from the event and the reason from the
decision record.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, TextIO

from pydantic import BaseModel, ConfigDict

from kops_runner import log

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Status(StrEnum):
    APPLIED = "applied"
    DRY_RUN = "dry_run"
    BAD_REQUEST = "bad_request"
    KOPS_FAILED = "kops_failed"
    VERIFICATION_FAILED = "verification_failed"
    ERROR = "error"  # unexpected failure in the runner itself (exit code 1)
    DEADLINE_PASSED = "deadline_passed"  # the deadline came before the run could finish (or start its change)


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    BAD_REQUEST = 2
    KOPS_FAILED = 3
    VERIFICATION_FAILED = 4
    DEADLINE_PASSED = 5


EXIT_CODES: dict[Status, ExitCode] = {
    Status.APPLIED: ExitCode.OK,
    Status.DRY_RUN: ExitCode.OK,
    Status.BAD_REQUEST: ExitCode.BAD_REQUEST,
    Status.KOPS_FAILED: ExitCode.KOPS_FAILED,
    Status.VERIFICATION_FAILED: ExitCode.VERIFICATION_FAILED,
    Status.ERROR: ExitCode.UNEXPECTED,
    Status.DEADLINE_PASSED: ExitCode.DEADLINE_PASSED,
}

# The decision's attribute holding the ARN of the one task that runs it (decision.py `claim`); the runner role may
# write only it and runner_result (infra/kops-runner.yaml RecordOutcome).
CLAIM_ATTRIBUTE = "runner_claim"

# DynamoDB items are capped at 400 KB; kops output quoted in a message must not come near it.
MAX_MESSAGE_CHARS = 2000


class Sizes(BaseModel):
    model_config = ConfigDict(frozen=True)

    min: int | None
    max: int | None


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision_id: str | None
    cluster: str | None
    instance_group: str | None
    requested: Sizes | None
    previous: Sizes | None
    applied: bool
    dry_run: bool
    status: Status
    message: str
    kops_version: str | None

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self.status]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"))


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Keep a message bounded; the tail of kops output holds the error, so cut the middle."""
    if len(text) <= limit:
        return text
    half = (limit - 5) // 2
    return f"{text[:half]} ... {text[-half:]}"


def write_stdout(outcome: Outcome, stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(outcome.to_json() + "\n")
    out.flush()


def record(dynamodb: Callable[[], DynamoDBClient], table: str, outcome: Outcome, task_arn: str) -> bool:
    """Store the outcome on the decision ``task_arn`` claimed (decision.py); never creates one, never writes on a
    decision another task claimed. Returns whether it was stored."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not outcome.decision_id:
        log.event("outcome_not_recorded", reason="no decision id")
        return False
    try:
        dynamodb().update_item(
            TableName=table,
            Key={"id": {"S": outcome.decision_id}},
            UpdateExpression="SET runner_result = :json",
            ConditionExpression="attribute_exists(id) AND #claim = :task",
            ExpressionAttributeNames={"#claim": CLAIM_ATTRIBUTE},
            ExpressionAttributeValues={":json": {"S": outcome.to_json()}, ":task": {"S": task_arn}},
        )
    except ClientError as error:
        # The kops change (or refusal) already happened; the exit code still tells Marea what it was.
        log.event("outcome_not_recorded", table=table, error=error.response.get("Error", {}).get("Code", str(error)))
        return False
    except BotoCoreError as error:  # no region or credentials, endpoint unreachable
        log.event("outcome_not_recorded", table=table, error=str(error))
        return False
    return True
