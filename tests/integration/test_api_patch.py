"""PATCH /targets/{id} (RFC 7396 merge patch), a PUT that would silently reset fields, and If-Match."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.world import asg_target

JSON = {"Content-Type": "application/json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def step_policy() -> dict[str, Any]:
    return {
        "type": "step",
        "name": "burst",
        "alarm_name": "web-cpu-high",
        "adjustment_type": "change_in_capacity",
        "steps": [{"lower_bound": 0, "adjustment": 2}],
    }


@pytest.fixture
def web(client: Any) -> dict[str, Any]:
    """A registered target with two policies, in advise mode; returns the registered body."""
    body = asg_target(mode="advise", description="web tier", policies=[*asg_target()["policies"], step_policy()])
    response = client.http.put("/targets/web", headers=JSON, body=json.dumps(body))
    assert response.status_code == 201, response.json_body
    return body


def patch(client: Any, target_id: str, document: Any, headers: dict[str, str] | None = None) -> Any:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.http.patch(f"/targets/{target_id}", headers=headers or MERGE_PATCH, body=raw)


def stored(client: Any, target_id: str = "web") -> dict[str, Any]:
    response = client.http.get(f"/targets/{target_id}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json_body
    return body


def alarm_links(clients: dict[str, Any], data_stack: Any, alarm: str) -> list[str]:
    items = clients["dynamodb"].query(
        TableName=data_stack.targets_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"A#{alarm}"}},
    )["Items"]
    return [item["target_id"]["S"] for item in items]


# ---- PATCH -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [MERGE_PATCH, JSON, {"Content-Type": "application/merge-patch+json; charset=utf-8"}]
)
def test_given_a_target_with_policies_when_mode_is_patched_then_only_the_mode_changes(
    client: Any, web: dict[str, Any], headers: dict[str, str]
) -> None:
    before = stored(client)

    response = patch(client, "web", {"mode": "act"}, headers)

    assert response.status_code == 200, response.json_body
    assert response.json_body == {**before, "mode": "act", "version": 2}
    assert stored(client) == response.json_body
    assert response.headers["ETag"] == '"2"'


def test_a_merge_patch_merges_objects_replaces_arrays_and_null_removes_a_field(
    client: Any, web: dict[str, Any], clients: dict[str, Any], data_stack: Any
) -> None:
    cpu = web["policies"][0]
    response = patch(
        client,
        "web",
        {"min": 2, "max": 12, "paused": True, "description": None, "policies": [{**cpu, "target_value": 70}]},
    )

    assert response.status_code == 200, response.json_body
    after = stored(client)
    assert (after["min"], after["max"], after["paused"], after["description"]) == (2, 12, True, "")
    assert [(p["name"], p["target_value"]) for p in after["policies"]] == [("cpu", 70)]
    assert alarm_links(clients, data_stack, "web-cpu-high") == []  # the step policy's alarm link went with it


def test_a_patch_keeps_the_targets_state(client: Any, web: dict[str, Any]) -> None:
    from chalicelib import wiring

    before = wiring.registry().require("web")
    patch(client, "web", {"paused": True})
    after = wiring.registry().require("web")
    assert after.state == before.state
    assert after.version == before.version + 1


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"id": "other"}, "id"),
        ({"id": None}, "id"),
        ({"kind": "ecs", "cluster": "c", "service": "s"}, "kind"),
        ({"kind": None}, "kind"),
    ],
)
def test_id_and_kind_cannot_change_through_patch(client: Any, web: dict[str, Any], document: Any, field: str) -> None:
    before = stored(client)
    response = patch(client, "web", document)
    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] == "VALIDATION_FAILED"
    assert response.json_body["message"].startswith(f"{field}:")
    assert stored(client) == before


def test_restating_the_same_id_and_kind_is_allowed(client: Any, web: dict[str, Any]) -> None:
    assert patch(client, "web", {"id": "web", "kind": "asg", "max": 11}).status_code == 200
    assert stored(client)["max"] == 11


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"min": 30}, "min (30) must not exceed max (10)"),
        ({"mode": "yolo"}, "mode"),
        ({"asg_name": None}, "asg_name"),
        ({"min": None}, "min"),
        ({"colour": "blue"}, "colour"),
        ({"policies": [{"type": "target_tracking", "name": "x"}]}, "policies.0"),
        (
            {
                "policies": [
                    {
                        "type": "target_tracking",
                        "name": "mem",
                        "metric": {"type": "predefined", "predefined": "ECSServiceAverageMemoryUtilization"},
                        "target_value": 70,
                    }
                ]
            },
            "policies.0.metric",
        ),
    ],
)
def test_the_merged_target_is_validated_as_a_whole_and_a_refusal_writes_nothing(
    client: Any, web: dict[str, Any], document: Any, message: str
) -> None:
    before = stored(client)
    response = patch(client, "web", document)
    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] == "VALIDATION_FAILED"
    assert message in response.json_body["message"]
    assert stored(client) == before


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"a string"', b"", b"null"])
def test_a_patch_that_is_not_a_json_object_is_a_400(client: Any, web: dict[str, Any], raw: bytes) -> None:
    before = stored(client)
    response = patch(client, "web", raw)
    assert (response.status_code, response.json_body["code"]) == (400, "BAD_REQUEST")
    assert stored(client) == before


def test_patching_an_unknown_target_is_a_404(client: Any) -> None:
    response = patch(client, "nope", {"mode": "act"})
    assert response.status_code == 404
    assert response.json_body == {"code": "NOT_FOUND", "message": "target 'nope' is not registered"}
    assert patch(client, "bad%20id", {"mode": "act"}).status_code == 400


# ---- If-Match ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ['"1"', "1", "*", '"7", "1"'])
def test_a_patch_with_the_current_version_in_if_match_is_applied(client: Any, web: dict[str, Any], tag: str) -> None:
    response = patch(client, "web", {"mode": "act"}, {**MERGE_PATCH, "If-Match": tag})
    assert response.status_code == 200, response.json_body
    assert stored(client)["mode"] == "act"


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_a_write_with_a_stale_version_in_if_match_is_a_412_and_writes_nothing(
    client: Any, web: dict[str, Any], method: str
) -> None:
    patch(client, "web", {"max": 12})  # version 2 now
    before = stored(client)

    body = {"mode": "act"} if method == "PATCH" else {**web, "mode": "act"}
    response = client.http.request(
        method, "/targets/web", headers={**JSON, "If-Match": '"1"'}, body=json.dumps(body).encode()
    )

    assert response.status_code == 412, response.body
    assert response.json_body["code"] == "PRECONDITION_FAILED"
    assert "version 2" in response.json_body["message"]
    assert stored(client) == before


def test_if_match_on_a_target_that_does_not_exist_is_a_412(client: Any) -> None:
    response = client.http.put("/targets/web", headers={**JSON, "If-Match": "*"}, body=json.dumps(asg_target()))
    assert (response.status_code, response.json_body["code"]) == (412, "PRECONDITION_FAILED")
    assert client.http.get("/targets/web").status_code == 404


@pytest.mark.parametrize("tag", ['W/"1"', "one", '"1', ""])
def test_an_if_match_that_is_not_a_version_is_a_400(client: Any, web: dict[str, Any], tag: str) -> None:
    response = patch(client, "web", {"mode": "act"}, {**MERGE_PATCH, "If-Match": tag})
    assert (response.status_code, response.json_body["code"]) == (400, "BAD_REQUEST")
    assert "If-Match" in response.json_body["message"]


def test_reads_and_writes_name_the_version_as_an_etag(client: Any, web: dict[str, Any]) -> None:
    assert client.http.get("/targets/web").headers["ETag"] == '"1"'
    response = client.http.put("/targets/web", headers=JSON, body=json.dumps({**web, "max": 11}))
    assert response.headers["ETag"] == '"2"'


# ---- PUT never resets a field silently --------------------------------------------------------


def test_a_put_that_omits_the_policies_of_a_target_that_has_some_is_refused(client: Any, web: dict[str, Any]) -> None:
    before = stored(client)
    body = {key: value for key, value in web.items() if key != "policies"}

    response = client.http.put("/targets/web", headers=JSON, body=json.dumps(body))

    assert response.status_code == 400, response.json_body
    assert response.json_body["code"] == "VALIDATION_FAILED"
    assert "policies" in response.json_body["message"]
    assert "PATCH" in response.json_body["message"]
    assert [e["field"] for e in response.json_body["errors"]] == ["policies"]
    assert stored(client) == before


def test_a_put_names_every_field_it_would_reset(client: Any, web: dict[str, Any]) -> None:
    patch(client, "web", {"paused": True, "scale_in_stabilization_s": 60})
    response = client.http.put(
        "/targets/web", headers=JSON, body=json.dumps({"kind": "asg", "asg_name": "web", "min": 1, "max": 10})
    )
    assert response.status_code == 400, response.json_body
    fields = [e["field"] for e in response.json_body["errors"]]
    assert fields == ["paused", "policies", "scale_in_stabilization_s", "description"]  # mode: advise is the default


def test_a_put_that_states_the_reset_explicitly_replaces_the_target(client: Any, web: dict[str, Any]) -> None:
    response = client.http.put("/targets/web", headers=JSON, body=json.dumps({**web, "policies": []}))
    assert response.status_code == 200, response.json_body
    assert stored(client)["policies"] == []


def test_a_put_that_creates_a_target_may_omit_every_default(client: Any) -> None:
    body = {"kind": "ecs", "cluster": "demo", "service": "chat", "min": 1, "max": 5}
    assert client.http.put("/targets/chat", headers=JSON, body=json.dumps(body)).status_code == 201
    assert client.http.put("/targets/chat", headers=JSON, body=json.dumps(body)).status_code == 200


# ---- the examples a new user copies ------------------------------------------------------------


def test_the_demos_advise_example_keeps_the_demo_targets_policies(client: Any) -> None:
    """The demo prints a command that switches the 'web' target's mode; run against the demo's target, it
    must change the mode and nothing else."""
    import shlex

    from marea_local import demo
    from marea_local.example_targets import example_target

    client.http.put("/targets/web", headers=JSON, body=json.dumps(example_target("web")))
    before = stored(client)
    (command,) = [c for c in demo.api_examples("http://127.0.0.1:8000", "") if "/targets/web " in c + " "]
    words = shlex.split(command)
    method = words[words.index("-X") + 1]
    headers = dict(h.split(": ", 1) for h in (words[i + 1] for i, w in enumerate(words) if w == "-H"))
    body = words[words.index("-d") + 1]

    response = client.http.request(method, "/targets/web", headers=headers, body=body.encode())

    assert response.status_code == 200, response.json_body
    after = stored(client)
    assert after["mode"] != before["mode"]
    assert {**after, "mode": before["mode"], "version": before["version"]} == before


def test_the_openapi_description_has_patch_with_both_media_types_and_if_match(client: Any) -> None:
    document = client.http.get("/openapi.json").json_body
    operation = document["paths"]["/targets/{target_id}"]["patch"]
    assert set(operation["requestBody"]["content"]) == {"application/merge-patch+json", "application/json"}
    assert {"200", "400", "404", "409", "412", "415"} <= set(operation["responses"])
    assert "If-Match" in [p["name"] for p in operation["parameters"]]
    patch_schema = document["components"]["schemas"]["TargetPatch"]
    assert "required" not in patch_schema
    assert {"mode", "paused", "min", "max", "policies", "asg_name", "sizing"} <= set(patch_schema["properties"])
    assert "412" in document["paths"]["/targets/{target_id}"]["put"]["responses"]
