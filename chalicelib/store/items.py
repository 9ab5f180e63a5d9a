"""DynamoDB item models and their mapping to the domain (one model per boundary)."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, TypeAdapter

from chalicelib.models.decisions import Decision
from chalicelib.models.signals import TargetHistory
from chalicelib.models.targets import Target

TARGET_ADAPTER: TypeAdapter[Target] = TypeAdapter(Target)

# Targets table key shapes. Each target has one primary item and one copy per alarm that
# triggers it, so an alarm event loads its targets (definition and state) with a single Query.
PRIMARY_SK = "TARGET"
LISTING = "TARGET"
DECISION_LOG_PARTITION = "ALL"


def target_pk(target_id: str) -> str:
    return f"T#{target_id}"


def alarm_pk(alarm_name: str) -> str:
    return f"A#{alarm_name}"


def alarm_sk(target_id: str) -> str:
    return f"T#{target_id}"


class RunnerRun(BaseModel):
    """A decision handed to an asynchronous actuator (the kops runner): running, or queued."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    decision_id: str
    capacity: int
    since: AwareDatetime


class TargetState(BaseModel):
    """What Marea remembers about a target between evaluations."""

    model_config = ConfigDict(extra="ignore")

    history: TargetHistory = TargetHistory()
    last_decision_id: str | None = None
    # The lease: at most one runner per target at a time, and at most one decision waiting for it.
    in_flight: RunnerRun | None = None
    queued: RunnerRun | None = None


class StoredTarget(BaseModel):
    """A target as stored: definition, state and the optimistic-concurrency version."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    target: Target
    state: TargetState
    version: int


def target_item(stored: StoredTarget, pk: str, sk: str) -> dict[str, dict[str, str]]:
    item = {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "target_id": {"S": stored.target.id},
        "doc": {"S": stored.target.model_dump_json()},
        "state": {"S": stored.state.model_dump_json()},
        "version": {"N": str(stored.version)},
    }
    if sk == PRIMARY_SK:
        item["listing"] = {"S": LISTING}
    return item


def stored_target_from_item(item: dict[str, dict[str, str]]) -> StoredTarget:
    return StoredTarget(
        target=TARGET_ADAPTER.validate_json(item["doc"]["S"]),
        state=TargetState.model_validate_json(item["state"]["S"]),
        version=int(item["version"]["N"]),
    )


def decision_item(decision: Decision, expires_at_epoch_s: int) -> dict[str, dict[str, str]]:
    return {
        "id": {"S": decision.id},
        "target_id": {"S": decision.target_id},
        "log_partition": {"S": DECISION_LOG_PARTITION},
        "outcome": {"S": decision.outcome.value},
        "doc": {"S": decision.model_dump_json()},
        "expires_at": {"N": str(expires_at_epoch_s)},
    }


def decision_from_item(item: dict[str, dict[str, str]]) -> Decision:
    return Decision.model_validate_json(item["doc"]["S"])
