"""The API's OpenAPI 3.1 description, generated from the same pydantic models that validate requests.

Served at GET /openapi.json so clients (and property-based API fuzzers) see exactly the contract the
code enforces; nothing here is written by hand twice.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from pydantic import TypeAdapter

from chalicelib.constants import TARGET_ID_PATTERN, ULID_PATTERN
from chalicelib.models.api import MAX_PAGE
from chalicelib.models.backtest import BacktestRequest, BacktestResponse
from chalicelib.models.decisions import Decision, Outcome
from chalicelib.store.items import TARGET_ADAPTER

_REF = "#/components/schemas/{model}"
# If-Match: * or a list of versions as entity tags ("3") or bare (3); chalicelib/api/preconditions.py.
IF_MATCH_PATTERN = r'^(\*|("[0-9]{1,18}"|[0-9]{1,18})( *, *("[0-9]{1,18}"|[0-9]{1,18}))*)$'
PUT_DESCRIPTION = (
    "Replaces the whole target and keeps its state (201 when it is new). A replacement that leaves out a "
    "field the target sets (its policies, paused, ...) would reset it to its default, so it is refused (400, "
    "each field named): send the field as it should be, or PATCH. 409 when another target already scales "
    "the same Auto Scaling group, ECS service or kops instance group (a kops instance group also holds its "
    "Auto Scaling group). 403 (RESOURCE_NOT_ALLOWED) when it names a resource outside the stage's allow-list; "
    "400 when its max is above the stage's ceiling for its kind, or a kops body places its runner (the stage does)."
)
PATCH_DESCRIPTION = (
    "Applies a JSON merge patch to the stored target: members sent replace the stored ones, null removes one "
    "(it takes its default), objects merge, arrays (policies) replace. The result is validated as a PUT body "
    "is; id and kind cannot change (400). Keeps the target's state. 404 for an unknown target, 409 when the "
    "result scales a resource another target scales; 403 and 400 as for PUT when the result leaves the stage's limits."
)
_TARGET_KINDS = ("AsgTarget", "EcsTarget", "KopsTarget")


def _json(schema_ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}


def _responses(ok_status: str, ok_schema: str | None, *errors: int) -> dict[str, Any]:
    responses: dict[str, Any] = {ok_status: {"description": "OK"}}
    if ok_schema:
        responses[ok_status]["content"] = _json(ok_schema)
    for status in errors:
        responses[str(status)] = {"description": "Error", "content": _json("Error")}
    return responses


def _json_or_merge_patch(schema_ref: str) -> dict[str, Any]:
    return {
        media: _json(schema_ref)["application/json"] for media in ("application/merge-patch+json", "application/json")
    }


def _with_etag(responses: dict[str, Any], *statuses: str) -> dict[str, Any]:
    for status in statuses:
        responses[status]["headers"] = {
            "ETag": {"description": "the target's version, for If-Match", "schema": {"type": "string"}}
        }
    return responses


def _if_match_param() -> dict[str, Any]:
    return {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": 'Write only if the target is at this version (its ETag, e.g. "3"), or exists (*); else 412',
        "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
    }


def _target_id_param() -> dict[str, Any]:
    return {
        "name": "target_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": TARGET_ID_PATTERN},
    }


def _schemas() -> dict[str, Any]:
    _, generated = TypeAdapter.json_schemas(
        [
            ("Target", "validation", TARGET_ADAPTER),
            ("Decision", "serialization", TypeAdapter(Decision)),
            ("BacktestRequest", "validation", TypeAdapter(BacktestRequest)),
            ("BacktestResponse", "serialization", TypeAdapter(BacktestResponse)),
        ],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = generated["$defs"]
    for kind in _TARGET_KINDS:
        # A PUT body is a target whose id comes from the path (it may repeat it, unchanged).
        body = copy.deepcopy(schemas[kind])
        # `kind` has a default in the model but picks the union member, so a body must name it.
        body["required"] = ["kind", *(name for name in body.get("required", []) if name not in ("id", "kind"))]
        schemas[f"{kind}Body"] = body
        stored = copy.deepcopy(schemas[kind])
        stored["properties"]["version"] = {"type": "integer", "minimum": 1}
        stored["required"] = sorted({*stored.get("required", []), "kind", "version", "mode", "paused", "policies"})
        schemas[f"{kind}Response"] = stored
    for suffix in ("Body", "Response"):
        schemas[f"Target{suffix}"] = {
            "oneOf": [{"$ref": _REF.format(model=f"{kind}{suffix}")} for kind in _TARGET_KINDS],
            "discriminator": {
                "propertyName": "kind",
                "mapping": {kind[:-6].lower(): _REF.format(model=f"{kind}{suffix}") for kind in _TARGET_KINDS},
            },
        }
    schemas["TargetPatch"] = _patch_schema(schemas)
    schemas["Error"] = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }
    schemas["DecisionList"] = {
        "type": "object",
        "required": ["decisions", "cursor"],
        "properties": {
            "decisions": {"type": "array", "items": {"$ref": _REF.format(model="Decision")}},
            "cursor": {"type": ["string", "null"]},
        },
    }
    schemas["TargetList"] = {
        "type": "object",
        "required": ["targets"],
        "properties": {"targets": {"type": "array", "items": {"$ref": _REF.format(model="TargetResponse")}}},
    }
    return schemas


def _patch_schema(schemas: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch of any kind of target, every field optional (PATCH_DESCRIPTION says how it applies)."""
    properties: dict[str, Any] = {}
    for kind in _TARGET_KINDS:
        for name, schema in schemas[f"{kind}Body"]["properties"].items():
            if name in ("id", "kind"):
                continue
            referenced = schemas.get(schema.get("$ref", "").rsplit("/", 1)[-1], {})
            if referenced.get("type") == "object":  # merged member by member: any part of it may be sent
                properties[name] = {"type": ["object", "null"], "description": f"merged into the stored {name}"}
            else:
                properties[name] = {"anyOf": [schema, {"type": "null"}]}
    properties["id"] = {"type": "string", "description": "may only restate the target's id"}
    properties["kind"] = {"enum": [kind[:-6].lower() for kind in _TARGET_KINDS], "description": "may only restate it"}
    return {
        "type": "object",
        "description": "A JSON merge patch (RFC 7396) of a target: null removes a field, objects merge, arrays replace",
        "properties": properties,
        "additionalProperties": False,
    }


def _paths() -> dict[str, Any]:
    date_time = {"type": "string", "format": "date-time"}
    list_params = [
        {"name": "target", "in": "query", "schema": {"type": "string", "pattern": TARGET_ID_PATTERN}},
        {"name": "since", "in": "query", "schema": date_time},
        {"name": "until", "in": "query", "schema": date_time},
        {"name": "outcome", "in": "query", "schema": {"type": "string", "enum": [o.value for o in Outcome]}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
        {"name": "cursor", "in": "query", "schema": {"type": "string", "minLength": 1, "maxLength": 2000}},
    ]
    target = [_target_id_param()]
    return {
        "/decisions": {
            "get": {
                "summary": "List decisions, newest first",
                "parameters": list_params,
                "responses": _responses("200", "DecisionList", 400),
            }
        },
        "/decisions/{decision_id}": {
            "get": {
                "summary": "One decision",
                "parameters": [
                    {
                        "name": "decision_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": ULID_PATTERN},
                    }
                ],
                "responses": _responses("200", "Decision", 400, 404),
            }
        },
        "/targets": {"get": {"summary": "List targets", "responses": _responses("200", "TargetList")}},
        "/targets/{target_id}": {
            "get": {
                "summary": "One target",
                "parameters": target,
                "responses": _with_etag(_responses("200", "TargetResponse", 400, 404), "200"),
            },
            "put": {
                "summary": "Create or replace a whole target",
                "description": PUT_DESCRIPTION,
                "parameters": [*target, _if_match_param()],
                "requestBody": {"required": True, "content": _json("TargetBody")},
                "responses": _with_etag(
                    {
                        **_responses("200", "TargetResponse", 400, 403, 409, 412, 415),
                        "201": {"description": "Created", "content": _json("TargetResponse")},
                    },
                    "200",
                    "201",
                ),
            },
            "patch": {
                "summary": "Change some fields of a target (JSON merge patch, RFC 7396)",
                "description": PATCH_DESCRIPTION,
                "parameters": [*target, _if_match_param()],
                "requestBody": {"required": True, "content": _json_or_merge_patch("TargetPatch")},
                "responses": _with_etag(_responses("200", "TargetResponse", 400, 403, 404, 409, 412, 415), "200"),
            },
            "delete": {
                "summary": "Delete a target",
                "parameters": [*target, _if_match_param()],
                "responses": _responses("204", None, 400, 404, 409, 412),
            },
        },
        "/backtest": {
            "post": {
                "summary": "Replay a target's last days under its policies and a proposed one",
                "requestBody": {"required": True, "content": _json("BacktestRequest")},
                "responses": _responses("200", "BacktestResponse", 400, 404, 415, 422),
            }
        },
        "/targets/{target_id}/evaluate": {
            "post": {
                "summary": "Evaluate a target now",
                "parameters": target,
                "responses": _responses("200", "Decision", 400, 404),
            }
        },
    }


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Marea API",
            "version": "1",
            "description": "Targets Marea scales and the log of every decision it made, with why.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }
            },
        },
        "security": [{"sigv4": []}],
    }
