"""One target per scaled resource: a second target on the same ASG, ECS service or instance group is a 409."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.world import asg_target

JSON = {"Content-Type": "application/json"}


def ecs(cluster: str = "demo", service: str = "chat") -> dict[str, Any]:
    return {"kind": "ecs", "cluster": cluster, "service": service, "min": 1, "max": 5}


def kops(cluster: str = "demo.k8s.local", group: str = "nodes") -> dict[str, Any]:
    return {
        "kind": "kops",
        "cluster_name": cluster,
        "instance_group": group,
        "state_store": "s3://marea-kops-state",
        "min": 1,
        "max": 5,
    }


def put(client: Any, target_id: str, body: dict[str, Any]) -> Any:
    return client.http.put(f"/targets/{target_id}", headers=JSON, body=json.dumps(body))


def ids(client: Any) -> list[str]:
    return [t["id"] for t in client.http.get("/targets").json_body["targets"]]


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (asg_target("web"), asg_target("web", max=4), "Auto Scaling group 'web' is already scaled by target 'a'"),
        (ecs(), ecs(), "ECS service 'chat' of cluster 'demo' is already scaled by target 'a'"),
        (
            ecs(),
            ecs(cluster="arn:aws:ecs:us-east-1:123456789012:cluster/demo"),
            "ECS service 'chat' of cluster 'demo' is already scaled by target 'a'",
        ),
        (
            ecs(),
            ecs(service="arn:aws:ecs:us-east-1:123456789012:service/demo/chat"),
            "ECS service 'chat' of cluster 'demo' is already scaled by target 'a'",
        ),
        (
            kops(),
            kops(),
            "kops instance group 'nodes' of cluster 'demo.k8s.local' is already scaled by target 'a'",
        ),
        (
            kops(),
            asg_target("nodes.demo.k8s.local"),
            "Auto Scaling group 'nodes.demo.k8s.local' is already scaled by target 'a'",
        ),
        (
            asg_target("nodes.demo.k8s.local"),
            kops(),
            "Auto Scaling group 'nodes.demo.k8s.local' is already scaled by target 'a'",
        ),
    ],
)
def test_a_second_target_on_a_scaled_resource_is_a_409_naming_the_first_and_nothing_is_written(
    client: Any, first: dict[str, Any], second: dict[str, Any], message: str
) -> None:
    assert put(client, "a", first).status_code == 201

    response = put(client, "b", second)

    assert response.status_code == 409, response.json_body
    assert response.json_body == {"code": "CONFLICT", "message": message}
    assert ids(client) == ["a"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (asg_target("web"), asg_target("api")),
        (ecs(), ecs(service="other")),
        (ecs(), ecs(cluster="other")),
        (kops(), kops(group="workers")),
        (kops(), kops(cluster="other.k8s.local")),
        (kops(), asg_target("workers.demo.k8s.local")),
    ],
)
def test_targets_on_different_resources_coexist(client: Any, first: dict[str, Any], second: dict[str, Any]) -> None:
    assert put(client, "a", first).status_code == 201
    assert put(client, "b", second).status_code == 201


def test_a_target_replaced_on_its_own_resource_keeps_its_claim(client: Any) -> None:
    assert put(client, "a", asg_target("web")).status_code == 201
    assert put(client, "a", asg_target("web", max=4)).status_code == 200
    assert put(client, "b", asg_target("web")).status_code == 409


def test_a_target_moved_to_another_resource_by_put_frees_the_first(client: Any) -> None:
    put(client, "a", asg_target("web"))
    assert put(client, "a", asg_target("api")).status_code == 200

    assert put(client, "b", asg_target("web")).status_code == 201
    assert put(client, "c", asg_target("api")).json_body["message"].endswith("already scaled by target 'a'")


def test_a_target_moved_by_patch_frees_the_first_and_claims_the_second(client: Any) -> None:
    put(client, "a", asg_target("web"))
    put(client, "b", asg_target("api"))
    refused = client.http.patch(
        "/targets/a", headers={"Content-Type": "application/merge-patch+json"}, body=b'{"asg_name": "api"}'
    )
    assert refused.status_code == 409
    assert refused.json_body["message"] == "Auto Scaling group 'api' is already scaled by target 'b'"

    moved = client.http.patch(
        "/targets/a", headers={"Content-Type": "application/merge-patch+json"}, body=b'{"asg_name": "jobs"}'
    )

    assert moved.status_code == 200, moved.json_body
    assert put(client, "c", asg_target("web")).status_code == 201
    assert put(client, "d", asg_target("jobs")).status_code == 409


def test_a_kops_target_moved_to_another_group_frees_both_its_claims(client: Any) -> None:
    put(client, "a", kops())
    assert put(client, "a", kops(group="workers")).status_code == 200

    assert put(client, "b", kops()).status_code == 201
    assert put(client, "c", asg_target("workers.demo.k8s.local")).status_code == 409


def test_a_deleted_target_frees_its_resource(client: Any) -> None:
    put(client, "a", kops())
    assert client.http.delete("/targets/a").status_code == 204

    assert put(client, "b", asg_target("nodes.demo.k8s.local")).status_code == 201
    assert put(client, "c", kops()).status_code == 409


def test_a_target_registered_before_claims_existed_is_still_found(
    client: Any, clients: dict[str, Any], data_stack: Any
) -> None:
    """A table written by an older Marea holds targets without claim items: they still count."""
    put(client, "old", asg_target("web"))
    table = clients["dynamodb"]
    claims = [
        item
        for item in table.scan(TableName=data_stack.targets_table)["Items"]
        if not item["pk"]["S"].startswith(("T#", "A#"))
    ]
    assert claims  # the claim this version wrote; removed to stand for an older table
    for item in claims:
        table.delete_item(TableName=data_stack.targets_table, Key={"pk": item["pk"], "sk": item["sk"]})

    response = put(client, "new", asg_target("web"))

    assert response.status_code == 409
    assert response.json_body["message"] == "Auto Scaling group 'web' is already scaled by target 'old'"
    assert put(client, "old", asg_target("web", max=4)).status_code == 200  # rewriting it claims its group
    assert put(client, "new", asg_target("web")).status_code == 409


def test_the_transaction_refuses_a_claim_the_checks_before_it_missed(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two PUTs racing both pass the reads before the transaction; the claim's condition still lets one through.

    The reads are skipped here to stand for the loser of that race (the threaded race itself runs
    against the serialized embedded AWS in tests/reliability/test_claim_races.py).
    """
    from chalicelib.store.targets import TargetRegistry

    assert put(client, "a", kops()).status_code == 201
    monkeypatch.setattr(TargetRegistry, "_refuse_claimed", lambda self, target_id, resources: None)

    for loser, body in (("b", kops()), ("c", asg_target("nodes.demo.k8s.local"))):
        response = put(client, loser, body)
        assert response.status_code == 409, response.json_body
        assert response.json_body["message"].endswith("is already scaled by target 'a'")
    assert ids(client) == ["a"]
