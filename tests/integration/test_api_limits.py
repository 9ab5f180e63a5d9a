"""What a stage lets Marea manage, at the API: resources outside its allow-list (403), a max above its
kind's ceiling (400), a kops runner placement in the body (400: it is the stage's); nothing is written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import wiring
from marea_local.data_stack import DataStack
from tests.integration.world import asg_target, kops_target

JSON = {"Content-Type": "application/json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
STEP = {
    "type": "step",
    "name": "burst",
    "alarm_name": "db-cpu-high",
    "adjustment_type": "change_in_capacity",
    "steps": [{"lower_bound": 0, "adjustment": 1}],
}
RUNNER = {"ecs_cluster": "elsewhere", "task_definition": "mine", "subnets": ["subnet-1"], "security_groups": ["sg-1"]}


def stage(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    """Set stage settings (as .chalice/config.json would) for this test; the next request reads them."""
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    wiring.reset()


def put(client: Any, target_id: str, body: dict[str, Any]) -> Any:
    return client.http.put(f"/targets/{target_id}", headers=JSON, body=json.dumps(body))


def patch(client: Any, target_id: str, document: dict[str, Any]) -> Any:
    return client.http.patch(f"/targets/{target_id}", headers=MERGE_PATCH, body=json.dumps(document))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (asg_target("db"), "Auto Scaling group 'db' is not among the resources this stage lets Marea manage"),
        (
            {"kind": "ecs", "cluster": "prod", "service": "chat", "min": 1, "max": 5},
            "ECS service 'prod/chat' is not among the resources this stage lets Marea manage "
            "(MAREA_ALLOWED_RESOURCES: no ecs: entry)",
        ),
        (kops_target(), "kops instance group 'demo.k8s.local/nodes' is not among"),
        (asg_target("web-1", policies=[STEP]), "alarm 'db-cpu-high' is not among"),
    ],
    ids=["asg", "ecs", "kops", "alarm"],
)
def test_registering_a_resource_outside_the_allow_list_is_a_403_and_writes_nothing(
    client: Any, monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], message: str
) -> None:
    stage(monkeypatch, MAREA_ALLOWED_RESOURCES="asg:web-*,alarm:web-*")

    response = put(client, "t", body)

    assert response.status_code == 403
    assert response.json_body["code"] == "RESOURCE_NOT_ALLOWED"
    assert message in response.json_body["message"]
    assert client.http.get("/targets/t").status_code == 404


def test_a_patch_pointing_a_target_outside_the_allow_list_is_a_403_and_changes_nothing(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage(monkeypatch, MAREA_ALLOWED_RESOURCES="asg:web-*")
    assert put(client, "t", asg_target("web-1")).status_code == 201

    response = patch(client, "t", {"asg_name": "db"})

    assert (response.status_code, response.json_body["code"]) == (403, "RESOURCE_NOT_ALLOWED")
    after = client.http.get("/targets/t").json_body
    assert (after["asg_name"], after["version"]) == ("web-1", 1)


@pytest.mark.parametrize(
    ("settings", "body", "message"),
    [
        (
            {},
            asg_target(max=1001),
            "1001 is above this stage's ceiling of 1000 for asg targets (MAREA_MAX_CAPACITY_ASG)",
        ),
        (
            {"MAREA_MAX_CAPACITY_ECS": "50"},
            {"kind": "ecs", "cluster": "prod", "service": "chat", "min": 1, "max": 51},
            "51 is above this stage's ceiling of 50 for ecs targets (MAREA_MAX_CAPACITY_ECS)",
        ),
        ({"MAREA_MAX_CAPACITY_KOPS": "8"}, kops_target(), "10 is above this stage's ceiling of 8 for kops targets"),
    ],
    ids=["asg-default", "ecs", "kops"],
)
def test_a_max_above_the_stage_ceiling_is_a_400_naming_it_and_writes_nothing(
    client: Any, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str], body: dict[str, Any], message: str
) -> None:
    stage(monkeypatch, **settings)

    response = put(client, "t", body)

    assert (response.status_code, response.json_body["code"]) == (400, "VALIDATION_FAILED")
    assert response.json_body["message"].startswith(f"max: {message}")
    assert client.http.get("/targets/t").status_code == 404


def test_a_kops_body_that_places_its_runner_is_a_400_saying_where_that_lives_now(client: Any) -> None:
    response = put(client, "nodes", {**kops_target(), "runner": RUNNER})

    assert (response.status_code, response.json_body["code"]) == (400, "VALIDATION_FAILED")
    assert "MAREA_KOPS_RUNNER_* in .chalice/config.json" in response.json_body["message"]
    assert client.http.get("/targets/nodes").status_code == 404
    assert put(client, "nodes", kops_target()).status_code == 201
    refused = patch(client, "nodes", {"runner": {"subnets": ["subnet-mine"]}})
    assert (refused.status_code, refused.json_body["code"]) == (400, "VALIDATION_FAILED")
    assert "is the stage's configuration now" in refused.json_body["message"]


def test_a_kops_target_stored_with_its_runner_still_loads_and_loses_it_at_its_next_write(
    client: Any, data_stack: DataStack, clients: dict[str, Any]
) -> None:
    """A target registered by an earlier Marea carries `runner`: it is read without it (the stage's
    settings say where the runner runs), and the next write stores the new shape."""
    assert put(client, "nodes", kops_target()).status_code == 201
    table, key = data_stack.targets_table, {"pk": {"S": "T#nodes"}, "sk": {"S": "TARGET"}}
    item = clients["dynamodb"].get_item(TableName=table, Key=key)["Item"]
    old_shape = {**json.loads(item["doc"]["S"]), "runner": RUNNER}
    clients["dynamodb"].put_item(TableName=table, Item={**item, "doc": {"S": json.dumps(old_shape)}})

    read = client.http.get("/targets/nodes")
    assert read.status_code == 200
    assert "runner" not in read.json_body
    assert patch(client, "nodes", {"mode": "advise"}).status_code == 200
    rewritten = clients["dynamodb"].get_item(TableName=table, Key=key)["Item"]
    assert "runner" not in json.loads(rewritten["doc"]["S"])


def test_the_openapi_description_lists_the_403_of_put_and_patch_and_no_runner_in_a_kops_body(client: Any) -> None:
    document = client.http.get("/openapi.json").json_body
    target = document["paths"]["/targets/{target_id}"]
    assert "403" in target["put"]["responses"]
    assert "403" in target["patch"]["responses"]
    assert "runner" not in document["components"]["schemas"]["KopsTargetBody"]["properties"]
