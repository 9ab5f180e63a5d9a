"""What PUT and PATCH /targets/{id} check before the registry writes, the same way for both.

- The target, whole (PUT's body, or the stored target with PATCH's merge patch applied), is
  validated by the model and every predefined metric is resolved against its kind.
- PATCH cannot change a target's id or kind: a different kind is a different definition (PUT it).
- The stage decides what Marea may manage (chalicelib/resource_limits.py): a target naming a resource
  outside its allow-list is refused (403), one whose max is above its kind's ceiling too (400); where the
  kops runner runs is the stage's as well, so a body that still says (``runner``) is refused (400).
- A PUT replaces the whole target, so a field it leaves out takes its default. Leaving out a field
  the target sets (its policies, ``paused``, ...) is far more often a mistake than a wish, and a
  costly one (the policies are gone, a paused target acts again), so such a PUT is refused with
  the fields named: send them as they should be, or PATCH only what changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter

from chalicelib.api.merge_patch import merge_patch
from chalicelib.errors import ResourceNotAllowedError, ValidationFailedError
from chalicelib.metrics import resolve_metric
from chalicelib.models.targets import EcsTarget, Target, TargetBase, TargetTrackingPolicy
from chalicelib.resource_limits import ResourceLimits
from chalicelib.store.items import TARGET_ADAPTER

_IMMUTABLE = ("id", "kind")
RUNNER_MOVED = (
    "runner: where the kops runner runs (its ECS cluster, task definition, container, subnets, security groups "
    "and public IP) is the stage's configuration now (MAREA_KOPS_RUNNER_* in .chalice/config.json), not the "
    "target's: leave runner out"
)


@dataclass(frozen=True)
class FieldReset:
    field: str
    message: str


def validated_target(
    document: dict[str, Any],
    target_id: str,
    limits: ResourceLimits,
    own_account: Callable[[], str | None] = lambda: None,
) -> Target:
    """The target ``document`` describes, stored under ``target_id``, within the stage's ``limits``.

    ``own_account``: Marea's account (asked only of a target that names a role): a role there is refused, so
    that a group of Marea's own account has one name, and one target (docs/multi-account.md).

    Raises pydantic's ValidationError (each field named), ValidationFailedError or ResourceNotAllowedError.
    """
    if "version" in document:
        raise ValidationFailedError(
            'version: Marea sets it; to write only over the version you read, send If-Match: "<version>"'
        )
    if "id" in document and document["id"] != target_id:
        raise ValidationFailedError(f"id in the body ({document['id']!r}) differs from the path ({target_id!r})")
    if document.get("kind") == "kops" and "runner" in document:
        raise ValidationFailedError(RUNNER_MOVED)
    target = TARGET_ADAPTER.validate_python({**document, "id": target_id})
    above = limits.ceiling_refusal(target)
    if above is not None:
        raise ValidationFailedError(f"max: {above}")
    elsewhere = _location_refusal(target, limits, own_account)
    if elsewhere is not None:
        raise ValidationFailedError(elsewhere)
    refusal = limits.refusal(target)
    if refusal is not None:
        raise ResourceNotAllowedError(f"{refusal}; nothing was written")
    for index, policy in enumerate(target.policies):
        if isinstance(policy, TargetTrackingPolicy):
            try:
                resolve_metric(target, policy.metric)
            except ValueError as exc:
                raise ValidationFailedError(f"policies.{index}.metric: {exc}") from exc
    return target


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every Region of every partition in botocore's endpoint data (read once: only a write naming a Region asks)."""
    import botocore.session

    partitions = botocore.session.get_session().get_data("endpoints")["partitions"]
    return frozenset(region for partition in partitions for region in partition["regions"])


def _location_refusal(target: Target, limits: ResourceLimits, own_account: Callable[[], str | None]) -> str | None:
    """Why the target names where it lives in a way that is not the one name of that place; None when it does not.

    Marea's own Region is named by leaving ``region`` out, its own account by leaving ``role_arn`` out, and an
    ECS cluster or service given by ARN lives where its ARN says: so each resource has one claim key.
    """
    own_region = limits.region_refusal(target)
    if own_region is not None:
        return own_region
    if target.region is not None and target.region not in known_regions():
        return (
            f"region: {target.region!r} is not a Region AWS publishes (botocore's endpoint data lists "
            f"{len(known_regions())}, e.g. us-east-1, eu-west-1); a Region newer than Marea's botocore needs an upgrade"
        )
    location = target.location
    if location.account_id is not None and location.account_id == own_account():
        return (
            f"role_arn: {target.role_arn} is a role of the account Marea runs in, which Marea reads and changes "
            "as its own role: leave role_arn (and account_id, external_id) out"
        )
    if isinstance(target, EcsTarget) and location.is_home and limits.home_region is not None:
        for field, value in (("cluster", target.cluster), ("service", target.service)):
            parts = value.split(":")
            if value.startswith("arn:") and len(parts) > 4 and parts[3] != limits.home_region:
                return f"{field}: an ARN in Region {parts[3]}: name it with region (and role_arn for another account)"
    return None


def patched_document(stored: TargetBase, patch: dict[str, Any]) -> dict[str, Any]:
    """The stored target with an RFC 7396 merge patch applied (still to be validated as a whole)."""
    current = stored.model_dump(mode="json")
    for name in _IMMUTABLE:
        if name in patch and patch[name] != current[name]:
            raise ValidationFailedError(
                f"{name}: cannot change through PATCH (target {stored.id!r} has {name} {current[name]!r}); "
                f"a target of another {name} is another definition: PUT it"
            )
    merged: dict[str, Any] = merge_patch(current, patch)
    return merged


def silent_resets(existing: TargetBase, body: dict[str, Any], replacement: TargetBase) -> list[FieldReset]:
    """Fields a PUT body leaves out whose stored value its default would replace, in model order."""
    resets = []
    for name in type(replacement).model_fields:
        if name in body or name in _IMMUTABLE or name not in type(existing).model_fields:
            continue
        before, after = getattr(existing, name), getattr(replacement, name)
        if before != after:
            resets.append(
                FieldReset(name, f"left out: the PUT would replace {_shown(before)} with the default {_shown(after)}")
            )
    return resets


def resets_message(target_id: str, resets: list[FieldReset]) -> str:
    names = ", ".join(r.field for r in resets)
    return (
        f"{names}: left out of a PUT, which replaces the whole target, so target {target_id!r} would lose what it "
        f"sets there. Send {'them' if len(resets) > 1 else 'it'} as the target should have "
        f'{"them" if len(resets) > 1 else "it"} (e.g. "policies": [] to remove every policy), '
        f"or PATCH /targets/{target_id} to change only the fields you send"
    )


def _shown(value: Any) -> str:
    """A stored value as a person reads it: JSON, but a list of named items by their names."""
    if isinstance(value, list) and value:
        names = [getattr(item, "name", None) for item in value]
        listed = f" ({', '.join(str(n) for n in names)})" if all(names) else ""
        return f"{len(value)} item{'s' if len(value) > 1 else ''}{listed}"
    return json.dumps(TypeAdapter(Any).dump_python(value, mode="json"))
