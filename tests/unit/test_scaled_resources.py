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
        ScaledResource("asg:web", "Auto Scaling group 'web'")
    ]


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
