"""The resources a target scales: equal keys for the same resource however the target names it."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.models.resources import ScaledResource, scaled_resources
from chalicelib.store.items import TARGET_ADAPTER


def target(**fields: Any) -> Any:
    return TARGET_ADAPTER.validate_python({"id": "t", "min": 1, "max": 5, **fields})


def keys(**fields: Any) -> list[str]:
    return [r.key for r in scaled_resources(target(**fields))]


def test_an_asg_target_scales_its_group() -> None:
    assert scaled_resources(target(kind="asg", asg_name="web")) == [
        ScaledResource("asg", "web", "Auto Scaling group 'web'")
    ]
    assert keys(kind="asg", asg_name="web") == ["asg:web"]  # the keys claims were written with before accounts


@pytest.mark.parametrize(
    ("cluster", "service"),
    [
        ("demo", "chat"),
        ("arn:aws:ecs:eu-west-1:123456789012:cluster/demo", "chat"),
        ("demo", "arn:aws:ecs:eu-west-1:123456789012:service/demo/chat"),
        ("demo", "arn:aws:ecs:eu-west-1:123456789012:service/chat"),  # the older ARN format
    ],
)
def test_an_ecs_service_has_one_key_by_name_or_arn(cluster: str, service: str) -> None:
    assert keys(kind="ecs", cluster=cluster, service=service) == ["ecs:demo/chat"]


def test_services_of_the_same_name_in_two_clusters_differ() -> None:
    assert keys(kind="ecs", cluster="a", service="chat") != keys(kind="ecs", cluster="b", service="chat")


def test_a_kops_target_scales_its_instance_group_and_the_group_kops_made_for_it() -> None:
    resources = scaled_resources(
        target(
            kind="kops",
            cluster_name="k.example.com",
            instance_group="nodes",
            state_store="s3://kops-state",
        )
    )
    assert [r.key for r in resources] == ["kops:k.example.com/nodes", "asg:nodes.k.example.com"]
    assert resources[0].label == "kops instance group 'nodes' of cluster 'k.example.com'"
    assert resources[1] == scaled_resources(target(kind="asg", asg_name="nodes.k.example.com"))[0]


ROLE = "arn:aws:iam::111122223333:role/marea-dev-spoke"


def test_the_same_name_in_another_account_or_region_is_another_resource() -> None:
    here = keys(kind="asg", asg_name="web")
    elsewhere = [
        keys(kind="asg", asg_name="web", region="us-west-2"),
        keys(kind="asg", asg_name="web", role_arn=ROLE),
        keys(kind="asg", asg_name="web", role_arn=ROLE, region="us-west-2"),
    ]
    assert elsewhere == [
        ["asg@-/us-west-2:web"],
        ["asg@111122223333/-:web"],
        ["asg@111122223333/us-west-2:web"],
    ]
    assert here not in elsewhere


def test_where_a_resource_lives_is_part_of_its_label_and_an_external_id_is_not_part_of_its_key() -> None:
    [resource] = scaled_resources(target(kind="ecs", cluster="demo", service="chat", role_arn=ROLE, region="eu-west-1"))
    assert resource.label == "ECS service 'chat' of cluster 'demo' in account 111122223333, Region eu-west-1"
    # one service, whichever external id the role is assumed with: two targets on it still collide
    assert keys(kind="ecs", cluster="demo", service="chat", role_arn=ROLE, external_id="abc") == [
        "ecs@111122223333/-:demo/chat"
    ]
