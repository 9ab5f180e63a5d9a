"""REST routes: parse the request into a model, call one function, return a response model.

app.py imports this module at cold start, so only Chalice and import-light modules load here; each
route imports the models, the store and the use cases it needs when it first runs.
"""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Blueprint, IAMAuthorizer, Response

from chalicelib.api.errors import error_response, json_errors, validation_response
from chalicelib.api.request_body import json_body
from chalicelib.constants import TARGET_ID_PATTERN, ULID_PATTERN
from chalicelib.errors import BadRequestError, NotFoundError, ValidationFailedError

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
    from chalicelib.models.api import target_response

    stored = wiring.registry().require(_target_id(target_id))
    return target_response(stored.target, stored.version)


@api.route("/targets/{target_id}", methods=["PUT"], authorizer=iam, content_types=["application/json"])
@json_errors
def put_target(target_id: str) -> Any:
    from pydantic import ValidationError

    from chalicelib import wiring
    from chalicelib.metrics import resolve_metric
    from chalicelib.models.api import target_response
    from chalicelib.models.targets import TargetTrackingPolicy
    from chalicelib.store.items import TARGET_ADAPTER

    body = json_body(api.current_request)
    _target_id(target_id)
    if "id" in body and body["id"] != target_id:
        raise ValidationFailedError(f"id in the body ({body['id']!r}) differs from the path ({target_id!r})")
    try:
        target = TARGET_ADAPTER.validate_python({**body, "id": target_id})
    except ValidationError as exc:
        return validation_response(exc)
    for index, policy in enumerate(target.policies):
        if isinstance(policy, TargetTrackingPolicy):
            try:
                resolve_metric(target, policy.metric)
            except ValueError as exc:
                return error_response(400, "VALIDATION_FAILED", f"policies.{index}.metric: {exc}")
    stored, created = wiring.registry().put(target)
    return Response(body=target_response(stored.target, stored.version), status_code=201 if created else 200)


@api.route("/targets/{target_id}", methods=["DELETE"], authorizer=iam)
@json_errors
def delete_target(target_id: str) -> Any:
    from chalicelib import wiring

    wiring.registry().delete(_target_id(target_id))
    return Response(body="", status_code=204)


@api.route("/targets/{target_id}/evaluate", methods=["POST"], authorizer=iam)
@json_errors
def evaluate_target(target_id: str) -> Any:
    from chalicelib import triggers
    from chalicelib.models.api import decision_response

    return decision_response(triggers.evaluate_now(_target_id(target_id)))
