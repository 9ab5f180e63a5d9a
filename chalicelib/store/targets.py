"""Target registry in DynamoDB: definitions, their state, the alarm → targets index and resource claims.

Every write that touches a target touches all its items (primary + one copy per alarm) in one
transaction, conditioned on the version read, so copies never drift and two writers never both win.
API writes also claim the resources the target scales in that transaction (store/claims.py), so
two targets never scale one resource.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.chunks import chunks
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.resources import ScaledResource, scaled_resources
from chalicelib.models.state import StoredTarget, TargetState, Unsettled
from chalicelib.models.targets import TargetBase
from chalicelib.store.claims import claim_holder, claim_put, claim_release
from chalicelib.store.decisions import new_decision_puts, outcome_update
from chalicelib.store.items import (
    LISTING,
    PRIMARY_SK,
    UNSETTLED_AT,
    UNSETTLED_CLAIMED,
    UNSETTLED_DEDUP,
    UNSETTLED_ID,
    alarm_pk,
    alarm_sk,
    stored_target_from_item,
    target_item,
    target_pk,
    unsettled_attributes,
)
from chalicelib.store.transactions import TransactionCancelled, write_transaction

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from chalicelib.models.decisions import Decision
    from chalicelib.models.targets import Target


_KEYS_PER_BATCH_GET = 100  # BatchGetItem's limit
_BATCH_GET_ATTEMPTS = 3
_UNPROCESSED_BACKOFF_S = 0.05


class DuplicateDecisionError(Exception):
    """The decision id is already recorded: this event was processed before."""


class VersionConflictError(Exception):
    """The target changed since it was read: another evaluation or an API write won."""


class TargetRegistry:
    def __init__(self, client: DynamoDBClient, table: str, decisions_table: str) -> None:
        self._client = client
        self._table = table
        self._decisions_table = decisions_table

    # ---- reads -------------------------------------------------------------------------------
    def get(self, target_id: str) -> StoredTarget | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": target_pk(target_id)}, "sk": {"S": PRIMARY_SK}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return stored_target_from_item(item) if item else None  # type: ignore[arg-type]

    def get_many(self, target_ids: Sequence[str]) -> dict[str, StoredTarget]:
        """The registered targets among these ids, strongly consistent as ``get``: 100 keys per
        BatchGetItem; keys DynamoDB leaves unprocessed are asked again, then read one by one."""
        found: dict[str, StoredTarget] = {}
        for chunk in chunks(sorted(set(target_ids)), _KEYS_PER_BATCH_GET):
            ids_by_pk = {target_pk(i): i for i in chunk}
            keys: list[Any] = [{"pk": {"S": pk}, "sk": {"S": PRIMARY_SK}} for pk in ids_by_pk]
            for attempt in range(_BATCH_GET_ATTEMPTS):
                response = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
                )
                for item in response.get("Responses", {}).get(self._table, []):
                    stored = stored_target_from_item(item)  # type: ignore[arg-type]
                    found[stored.target.id] = stored
                unprocessed: Any = response.get("UnprocessedKeys") or {}
                keys = list(unprocessed.get(self._table, {}).get("Keys", []))
                if not keys or attempt == _BATCH_GET_ATTEMPTS - 1:
                    break
                time.sleep(_UNPROCESSED_BACKOFF_S * 2**attempt)
            for key in keys:  # still unprocessed: throttled, so each is read as an evaluation alone would
                if (alone := self.get(ids_by_pk[key["pk"]["S"]])) is not None:
                    found[alone.target.id] = alone
        return found

    def require(self, target_id: str) -> StoredTarget:
        stored = self.get(target_id)
        if stored is None:
            raise NotFoundError(f"target {target_id!r} is not registered")
        return stored

    def by_alarm(self, alarm_name: str) -> list[StoredTarget]:
        """Targets whose policies name this alarm, definition and state in one Query."""
        return list(
            self._query(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": alarm_pk(alarm_name)}},
                ConsistentRead=True,
            )
        )

    def iter_all(self) -> Iterator[StoredTarget]:
        """Every registered target, through the sparse listing index (Query, never Scan)."""
        return self._query(
            IndexName="by_listing",
            KeyConditionExpression="listing = :l",
            ExpressionAttributeValues={":l": {"S": LISTING}},
        )

    def _query(self, **kwargs: Any) -> Iterator[StoredTarget]:
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, **kwargs):
            for item in page.get("Items", []):
                yield stored_target_from_item(item)  # type: ignore[arg-type]

    # ---- API writes --------------------------------------------------------------------------
    def put(self, target: Target) -> tuple[StoredTarget, bool]:
        """Create or replace a target, keeping its state. Returns (stored, created)."""
        existing = self.get(target.id)
        return self.write(target, over=existing), existing is None

    def write(self, target: Target, over: StoredTarget | None) -> StoredTarget:
        """Create ``target`` (``over`` None) or replace exactly the version ``over`` holds, keeping its state.

        One transaction writes the target's items and claims the resources it scales (releasing those
        it no longer does). ConflictError: another target scales one of them, or the target changed
        since ``over`` was read.
        """
        stored = StoredTarget(
            target=target,
            state=over.state if over else TargetState(),
            version=(over.version + 1) if over else 1,
            unsettled=over.unsettled if over else None,  # an actuation still unrecorded stays findable
        )
        resources = scaled_resources(target)
        self._refuse_claimed(target.id, resources)
        old_alarms = set(over.target.alarm_names) if over else set()
        items: list[Any] = [self._put_primary(stored, over)]
        items += [
            {"Put": {"TableName": self._table, "Item": target_item(stored, alarm_pk(a), alarm_sk(target.id))}}
            for a in target.alarm_names
        ]
        items += [self._delete_copy(a, target.id) for a in sorted(old_alarms - set(target.alarm_names))]
        first_claim = len(items)
        items += [claim_put(self._table, r, target.id) for r in resources]
        released = set(scaled_resources(over.target)) - set(resources) if over else set()
        items += [claim_release(self._table, r, target.id) for r in sorted(released)]
        try:
            write_transaction(self._client, items)
        except TransactionCancelled as exc:
            lost = [r for i, r in enumerate(resources) if exc.condition_failed(first_claim + i)]
            if lost:
                raise self._claimed_meanwhile(target.id, lost[0]) from exc
            raise ConflictError(f"target {target.id!r} changed while it was being written; retry") from exc
        return stored

    def delete(self, target_id: str) -> None:
        self.remove(self.require(target_id))

    def remove(self, existing: StoredTarget) -> None:
        """Delete exactly the version ``existing`` holds: its items and its resource claims."""
        target_id = existing.target.id
        items: list[Any] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": target_pk(target_id)}, "sk": {"S": PRIMARY_SK}},
                    "ConditionExpression": "version = :v",
                    "ExpressionAttributeValues": {":v": {"N": str(existing.version)}},
                }
            }
        ]
        items += [self._delete_copy(a, target_id) for a in existing.target.alarm_names]
        items += [claim_release(self._table, r, target_id) for r in scaled_resources(existing.target)]
        self._transact(items, conflict=f"target {target_id!r} changed while it was being deleted; retry")

    def _refuse_claimed(self, target_id: str, resources: list[ScaledResource]) -> None:
        """ConflictError naming the target that already scales one of ``resources``.

        Targets registered before claims existed hold none: when a resource is unclaimed, the
        registered targets are searched for one that scales it (the listing index, Query only).
        The transaction's conditions settle any race that starts after these reads.
        """
        unclaimed = []
        for resource in resources:
            holder = claim_holder(self._client, self._table, resource)
            if holder is None:
                unclaimed.append(resource)
            elif holder != target_id:
                raise ConflictError(f"{resource.label} is already scaled by target {holder!r}")
        if not unclaimed:
            return
        for other in self.iter_all():
            if other.target.id == target_id:
                continue
            for resource in unclaimed:
                if resource in scaled_resources(other.target):
                    raise ConflictError(f"{resource.label} is already scaled by target {other.target.id!r}")

    def _claimed_meanwhile(self, target_id: str, resource: ScaledResource) -> ConflictError:
        holder = claim_holder(self._client, self._table, resource)
        if holder is not None and holder != target_id:
            return ConflictError(f"{resource.label} is already scaled by target {holder!r}")
        return ConflictError(f"{resource.label} was claimed by another target while {target_id!r} was written; retry")

    def _put_primary(self, stored: StoredTarget, existing: StoredTarget | None) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": target_item(stored, target_pk(stored.target.id), PRIMARY_SK),
        }
        if existing is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
            return {"Put": put}
        # A claim does not move the version: the Put must not write back a mark as unclaimed that an
        # evaluation claimed after ``existing`` was read (it would let another act on it again).
        marker = existing.unsettled
        values: dict[str, Any] = {":v": {"N": str(existing.version)}}
        if marker is not None and marker.claimed_by is not None:
            claim = f"{UNSETTLED_CLAIMED} = :c"
            values[":c"] = {"S": marker.claimed_by}
        else:
            claim = f"attribute_not_exists({UNSETTLED_CLAIMED})"
        put["ConditionExpression"] = f"version = :v AND {claim}"
        put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def _delete_copy(self, alarm_name: str, target_id: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": {"pk": {"S": alarm_pk(alarm_name)}, "sk": {"S": alarm_sk(target_id)}},
            }
        }

    def _transact(self, items: list[Any], conflict: str) -> None:
        try:
            write_transaction(self._client, items)
        except TransactionCancelled as exc:
            raise ConflictError(conflict) from exc

    # ---- evaluation commit -------------------------------------------------------------------
    def commit_evaluation(
        self,
        stored: StoredTarget,
        state: TargetState,
        decision: Decision,
        expires_at: int,
        *,
        mark: Unsettled | None = None,
        clear_mark: bool = False,
        dedup: str | None = None,
    ) -> StoredTarget:
        """Record a decision and the target's new state atomically.

        Conditions: the decision is new (``dedup``: an event's evaluation of this target was not
        recorded before, so a redelivered event is a duplicate) and the target's version is the one
        evaluated (a racing evaluation or API write makes this one lose). ``mark``: this decision
        acts, so its items carry the Unsettled marker until the outcome is recorded; ``clear_mark``:
        the previous marker's decision is closed.
        """
        unsettled = mark if mark is not None else (None if clear_mark else stored.unsettled)
        new = StoredTarget(target=stored.target, state=state, version=stored.version + 1, unsettled=unsettled)
        puts = new_decision_puts(self._decisions_table, decision, expires_at, dedup)
        items = [*puts, *self._state_updates(stored, new, mark=mark, clear_mark=clear_mark and mark is None)]
        try:
            write_transaction(self._client, items)
        except TransactionCancelled as exc:
            if any(exc.condition_failed(index) for index in range(len(puts))):
                raise DuplicateDecisionError(decision.id) from exc
            raise VersionConflictError(stored.target.id) from exc
        return new

    def replace_state(self, stored: StoredTarget, state: TargetState) -> StoredTarget:
        """Write a corrected state (e.g. after a failed actuation) if nothing changed since ``stored``."""
        new = StoredTarget(target=stored.target, state=state, version=stored.version + 1, unsettled=stored.unsettled)
        try:
            write_transaction(self._client, self._state_updates(stored, new))
        except TransactionCancelled as exc:
            raise VersionConflictError(stored.target.id) from exc
        return new

    def settle_actuation(self, committed: StoredTarget, decision: Decision, state: TargetState | None) -> bool:
        """Record the outcome of a pending decision and remove its Unsettled marker, in one transaction.

        ``state``: a corrected state to write as well (a failed actuation is uncounted), only if the
        target is still at ``committed.version``. Returns False when the decision was no longer
        pending (another evaluation closed it). When only the target's items refuse (marker gone,
        state changed, target deleted), the outcome is still recorded on its own.
        """
        target: TargetBase = committed.target
        values: dict[str, Any] = {":id": {"S": decision.id}}
        update = f"REMOVE {UNSETTLED_ID}, {UNSETTLED_AT}, {UNSETTLED_CLAIMED}, {UNSETTLED_DEDUP}"
        condition = f"{UNSETTLED_ID} = :id"
        names: dict[str, str] = {}
        if state is not None:
            update = f"SET #s = :s, version = :new {update}"
            condition += " AND version = :old"
            names["#s"] = "state"
            values |= {
                ":s": {"S": state.model_dump_json()},
                ":new": {"N": str(committed.version + 1)},
                ":old": {"N": str(committed.version)},
            }
        target_updates: list[Any] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                    **({"ExpressionAttributeNames": names} if names else {}),
                }
            }
            for pk, sk in self._keys(target)
        ]
        items: list[Any] = [outcome_update(self._decisions_table, decision), *target_updates]
        try:
            write_transaction(self._client, items)
        except TransactionCancelled as exc:
            if exc.condition_failed(0):
                return False
            return self._finalize_alone(decision)
        return True

    def claim_actuation(self, stored: StoredTarget, decision_id: str, by: str) -> bool:
        """Claim, for evaluation ``by``, the right to call the cloud for the unsettled ``decision_id``;
        False if it is not unsettled (any more) or another evaluation claimed it first. One conditional
        write on the primary item; botocore's retry of a claim whose answer was lost succeeds."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": target_pk(stored.target.id)}, "sk": {"S": PRIMARY_SK}},
                UpdateExpression=f"SET {UNSETTLED_CLAIMED} = :by",
                ConditionExpression=(
                    f"{UNSETTLED_ID} = :id AND (attribute_not_exists({UNSETTLED_CLAIMED}) OR {UNSETTLED_CLAIMED} = :by)"
                ),
                ExpressionAttributeValues={":id": {"S": decision_id}, ":by": {"S": by}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _finalize_alone(self, decision: Decision) -> bool:
        try:
            self._client.update_item(**outcome_update(self._decisions_table, decision)["Update"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @staticmethod
    def _keys(target: TargetBase) -> list[tuple[str, str]]:
        """Keys of every item of a target: the primary and one copy per alarm."""
        return [(target_pk(target.id), PRIMARY_SK)] + [(alarm_pk(a), alarm_sk(target.id)) for a in target.alarm_names]

    def _state_updates(
        self, old: StoredTarget, new: StoredTarget, mark: Unsettled | None = None, clear_mark: bool = False
    ) -> list[dict[str, Any]]:
        """Conditional updates of every item of a target (primary and alarm copies)."""
        update = "SET #s = :s, version = :new"
        values: dict[str, Any] = {
            ":s": {"S": new.state.model_dump_json()},
            ":new": {"N": str(new.version)},
            ":old": {"N": str(old.version)},
        }
        if mark is not None:
            update += f", {UNSETTLED_ID} = :uid, {UNSETTLED_AT} = :uat, {UNSETTLED_DEDUP} = :ude"
            update += f" REMOVE {UNSETTLED_CLAIMED}"
            attributes = unsettled_attributes(mark)
            values |= {
                ":uid": attributes[UNSETTLED_ID],
                ":uat": attributes[UNSETTLED_AT],
                ":ude": attributes[UNSETTLED_DEDUP],
            }
        elif clear_mark:
            update += f" REMOVE {UNSETTLED_ID}, {UNSETTLED_AT}, {UNSETTLED_CLAIMED}, {UNSETTLED_DEDUP}"
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
                    "UpdateExpression": update,
                    "ConditionExpression": "version = :old",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": values,
                }
            }
            for pk, sk in self._keys(old.target)
        ]
