"""DynamoDB item models and their mapping to the domain (one model per boundary)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, TypeAdapter

from chalicelib.models.decisions import Decision
from chalicelib.models.state import StoredTarget, TargetState, Unsettled
from chalicelib.models.targets import Target

TARGET_ADAPTER: TypeAdapter[Target] = TypeAdapter(Target, config=ConfigDict(defer_build=True))  # as every model

# Targets table key shapes. Each target has one primary item and one copy per alarm that
# triggers it, so an alarm event loads its targets (definition and state) with a single Query.
PRIMARY_SK = "TARGET"
LISTING = "TARGET"
DECISION_LOG_PARTITION = "ALL"
# Decision attribute keying the by_target_outcome index: "<target_id>#<outcome>".
TARGET_OUTCOME = "target_outcome"
# Top-level attributes of every item of a target while an actuation's outcome is unrecorded (Unsettled).
UNSETTLED_ID = "unsettled_id"
UNSETTLED_AT = "unsettled_at"
# Only on the primary item: set by the one evaluation that calls the cloud for the unsettled decision.
UNSETTLED_CLAIMED = "unsettled_claimed"
UNSETTLED_DEDUP = "unsettled_dedup"


def target_pk(target_id: str) -> str:
    return f"T#{target_id}"


def alarm_pk(alarm_name: str) -> str:
    return f"A#{alarm_name}"


def alarm_sk(target_id: str) -> str:
    return f"T#{target_id}"


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
    if stored.unsettled is not None:
        item.update(unsettled_attributes(stored.unsettled))
    return item


def unsettled_attributes(unsettled: Unsettled) -> dict[str, dict[str, str]]:
    attributes = {
        UNSETTLED_ID: {"S": unsettled.decision_id},
        UNSETTLED_AT: {"N": str(int(unsettled.since.timestamp()))},
        UNSETTLED_DEDUP: {"S": unsettled.dedup or ""},
    }
    if unsettled.claimed_by is not None:
        attributes[UNSETTLED_CLAIMED] = {"S": unsettled.claimed_by}
    return attributes


def stored_target_from_item(item: dict[str, dict[str, str]]) -> StoredTarget:
    unsettled = None
    if UNSETTLED_ID in item and UNSETTLED_AT in item:
        since = datetime.fromtimestamp(int(item[UNSETTLED_AT]["N"]), UTC)
        unsettled = Unsettled(
            decision_id=item[UNSETTLED_ID]["S"],
            since=since,
            claimed_by=_claimed_by(item),
            dedup=item.get(UNSETTLED_DEDUP, {}).get("S") or None,
        )
    return StoredTarget(
        target=TARGET_ADAPTER.validate_python(target_document(json.loads(item["doc"]["S"]))),
        state=TargetState.model_validate_json(item["state"]["S"]),
        version=int(item["version"]["N"]),
        unsettled=unsettled,
    )


# Fields a stored target of an earlier Marea has and the model no longer takes, by kind: dropped on read,
# gone from the item at its next write. A kops target's `runner` (cluster, task definition, network) is
# the stage's now (settings.KopsRunner).
RETIRED_FIELDS = {"kops": ("runner",)}


def target_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored target document in the shape the model takes today."""
    retired = RETIRED_FIELDS.get(doc.get("kind", ""), ())
    return {name: value for name, value in doc.items() if name not in retired}


def target_outcome(target_id: str, outcome: str) -> str:
    """Partition key of the by_target_outcome index ('#' never occurs in a target id)."""
    return f"{target_id}#{outcome}"


# A mark written before marks were claimed (no dedup attribute either): it may have acted.
CLAIMED_BEFORE_CLAIMS = "before-claims"


def _claimed_by(item: dict[str, dict[str, str]]) -> str | None:
    if UNSETTLED_CLAIMED in item:
        return next(iter(item[UNSETTLED_CLAIMED].values()))
    return None if UNSETTLED_DEDUP in item else CLAIMED_BEFORE_CLAIMS


def decision_item(decision: Decision, expires_at_epoch_s: int) -> dict[str, dict[str, str]]:
    return {
        "id": {"S": decision.id},
        "target_id": {"S": decision.target_id},
        "log_partition": {"S": DECISION_LOG_PARTITION},
        "outcome": {"S": decision.outcome.value},
        TARGET_OUTCOME: {"S": target_outcome(decision.target_id, decision.outcome.value)},
        "doc": {"S": decision.model_dump_json()},
        "expires_at": {"N": str(expires_at_epoch_s)},
    }


def dedup_item(key: str, decision_id: str, expires_at_epoch_s: int) -> dict[str, dict[str, str]]:
    """The item that makes an event's second evaluation of a target a duplicate (ids.dedup_key).

    It lives in the decisions table under its own key and carries none of the indexes' attributes,
    so no listing ever shows it; it expires with the decision it points at.
    """
    return {"id": {"S": key}, "decision_id": {"S": decision_id}, "expires_at": {"N": str(expires_at_epoch_s)}}


def decision_from_item(item: dict[str, dict[str, str]]) -> Decision:
    return Decision.model_validate_json(item["doc"]["S"])
