"""REST routes: parse the request into a model, call one function, return a response model.

app.py imports this module at cold start, so only Chalice and import-light modules load here; each
route imports the models, the store and the use cases it needs when it first runs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, IAMAuthorizer, Response

from chalicelib.api.errors import field_errors_response, json_errors, validation_response
from chalicelib.api.preconditions import etag, if_match, require_version
from chalicelib.api.request_body import json_body
from chalicelib.constants import TARGET_ID_PATTERN, ULID_PATTERN
from chalicelib.errors import BadRequestError, NotFoundError

if TYPE_CHECKING:
    from chalicelib.models.state import StoredTarget

api = Blueprint(__name__)
# Deployed stages sign every request with SigV4; `chalice local` admits requests (local stage).
iam = IAMAuthorizer()

_TARGET_ID = re.compile(TARGET_ID_PATTERN)
_DECISION_ID = re.compile(ULID_PATTERN)


def _target_id(value: str) -> str:
    if not _TARGET_ID.match(value):
        raise BadRequestError("target id must be 1-128 characters: letters, digits, '.', '_' or '-'")
    return value


@api.route("/openapi.json", methods=["GET"], authorizer=iam)
@json_errors
def openapi() -> Any:
    from chalicelib.api.openapi import openapi_document  # built on first request only

    return openapi_document()


@api.route("/decisions", methods=["GET"], authorizer=iam)
@json_errors
def list_decisions() -> Any:
    from pydantic import ValidationError

    from chalicelib import wiring
    from chalicelib.models.api import DecisionListParams, decision_response
    from chalicelib.store.decisions import DecisionQuery

    try:
        params = DecisionListParams.model_validate(api.current_request.query_params or {})
    except ValidationError as exc:
        return validation_response(exc, prefix="query.")
    query = DecisionQuery(
        target_id=params.target,
        since=params.since,
        until=params.until,
        outcome=params.outcome,
        limit=params.limit,
        cursor=params.cursor,
    )
    decisions, cursor = wiring.decision_log().query(query)
    return {"decisions": [decision_response(d) for d in decisions], "cursor": cursor}


@api.route("/decisions/{decision_id}", methods=["GET"], authorizer=iam)
@json_errors
def get_decision(decision_id: str) -> Any:
    if not _DECISION_ID.match(decision_id):
        raise BadRequestError("decision id must be a 26-character ULID")
    from chalicelib import wiring
    from chalicelib.models.api import decision_response

    decision = wiring.decision_log().get(decision_id)
    if decision is None:
        raise NotFoundError(f"decision {decision_id!r} not found")
    return decision_response(decision)


@api.route("/targets", methods=["GET"], authorizer=iam)
@json_errors
def list_targets() -> Any:
    from chalicelib import wiring
    from chalicelib.models.api import target_response

    return {"targets": [target_response(t.target, t.version) for t in wiring.registry().iter_all()]}


@api.route("/targets/{target_id}", methods=["GET"], authorizer=iam)
@json_errors
def get_target(target_id: str) -> Any:
    from chalicelib import wiring

    return _target(wiring.registry().require(_target_id(target_id)))


@api.route("/targets/{target_id}", methods=["PUT"], authorizer=iam, content_types=["application/json"])
@json_errors
def put_target(target_id: str) -> Any:
    """Create or replace a whole target; refused when it would silently reset what the target sets."""
    from chalicelib import aws, wiring
    from chalicelib.api.target_writes import resets_message, silent_resets, validated_target

    body = json_body(api.current_request)
    condition = if_match(api.current_request.headers)
    target = validated_target(body, _target_id(target_id), wiring.limits(), aws.own_account)
    registry = wiring.registry()
    existing = registry.get(target_id)
    require_version(condition, existing, target_id)
    resets = silent_resets(existing.target, body, target) if existing else []
    if resets:
        return field_errors_response(resets_message(target_id, resets), [(r.field, r.message) for r in resets])
    return _target(registry.write(target, over=existing), status=200 if existing else 201)


@api.route(
    "/targets/{target_id}",
    methods=["PATCH"],
    authorizer=iam,
    content_types=["application/merge-patch+json", "application/json"],
)
@json_errors
def patch_target(target_id: str) -> Any:
    """Change some fields of a target (RFC 7396 merge patch); the result is validated as PUT validates."""
    from chalicelib import aws, wiring
    from chalicelib.api.target_writes import patched_document, validated_target

    patch = json_body(api.current_request)
    condition = if_match(api.current_request.headers)
    registry = wiring.registry()
    stored = registry.require(_target_id(target_id))
    require_version(condition, stored, target_id)
    target = validated_target(patched_document(stored.target, patch), target_id, wiring.limits(), aws.own_account)
    return _target(registry.write(target, over=stored))


@api.route("/targets/{target_id}", methods=["DELETE"], authorizer=iam)
@json_errors
def delete_target(target_id: str) -> Any:
    from chalicelib import wiring

    condition = if_match(api.current_request.headers)
    registry = wiring.registry()
    existing = registry.require(_target_id(target_id))
    require_version(condition, existing, target_id)
    registry.remove(existing)
    return Response(body="", status_code=204)


def _target(stored: StoredTarget, status: int = 200) -> Response:
    """A target as the API answers it, with its version as ETag (for If-Match)."""
    from chalicelib.models.api import target_response

    body = target_response(stored.target, stored.version)
    return Response(body=body, status_code=status, headers={"ETag": etag(stored.version)})


@api.route("/targets/{target_id}/evaluate", methods=["POST"], authorizer=iam)
@json_errors
def evaluate_target(target_id: str) -> Any:
    from chalicelib import triggers
    from chalicelib.models.api import decision_response

    return decision_response(triggers.evaluate_now(_target_id(target_id)))
