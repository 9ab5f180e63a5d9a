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
                "responses": _responses("200", "TargetResponse", 400, 404),
            },
            "put": {
                "summary": "Create or replace a target",
                "parameters": target,
                "requestBody": {"required": True, "content": _json("TargetBody")},
                "responses": {
                    **_responses("200", "TargetResponse", 400, 409),
                    "201": {"description": "Created", "content": _json("TargetResponse")},
                },
            },
            "delete": {
                "summary": "Delete a target",
                "parameters": target,
                "responses": _responses("204", None, 400, 404, 409),
            },
        },
        "/backtest": {
            "post": {
                "summary": "Replay a target's last days under its policies and a proposed one",
                "requestBody": {"required": True, "content": _json("BacktestRequest")},
                "responses": _responses("200", "BacktestResponse", 400, 404, 422),
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
