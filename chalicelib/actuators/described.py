"""Describe many resources in as few calls as AWS allows: Auto Scaling groups, ECS services.

Each answer maps a name to what AWS described, to None when AWS says it does not exist, or to the
error of the call that should have described it (every name of a failed call shares its error), so
that the targets an evaluation batch reads together fail, or not, exactly as they would alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.chunks import chunks

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ecs import ECSClient

# DescribeAutoScalingGroups takes 50 names by default and up to MaxRecords (at most 100) when it is set;
# DescribeServices takes at most 10 services of one cluster (docs/scaling-marea.md, "Per-call limits").
GROUP_NAMES_PER_CALL = 100
SERVICES_PER_CALL = 10

Described = Mapping[str, Any] | None | ClientError | BotoCoreError


def describe_groups(client: AutoScalingClient, names: Iterable[str]) -> dict[str, Described]:
    """Each Auto Scaling group by name (its DescribeAutoScalingGroups entry), 100 names per call."""
    unique = sorted(set(names))
    found: dict[str, Described] = {}
    for chunk in chunks(unique, GROUP_NAMES_PER_CALL):
        try:
            pages = client.get_paginator("describe_auto_scaling_groups").paginate(
                AutoScalingGroupNames=list(chunk), PaginationConfig={"PageSize": GROUP_NAMES_PER_CALL}
            )
            groups = {group["AutoScalingGroupName"]: group for page in pages for group in page["AutoScalingGroups"]}
        except (ClientError, BotoCoreError) as exc:
            found.update(dict.fromkeys(chunk, exc))
            continue
        found.update({name: groups.get(name) for name in chunk})
    return found


def describe_services(client: ECSClient, cluster: str, services: Iterable[str]) -> dict[str, Described]:
    """Each ACTIVE service of ``cluster`` by name (its DescribeServices entry), 10 per call; None when
    the service does not exist or is no longer ACTIVE (draining, inactive)."""
    unique = sorted(set(services))
    found: dict[str, Described] = {}
    for chunk in chunks(unique, SERVICES_PER_CALL):
        try:
            response = client.describe_services(cluster=cluster, services=list(chunk))
        except (ClientError, BotoCoreError) as exc:
            found.update(dict.fromkeys(chunk, exc))
            continue
        active = {_service_name(s): s for s in response.get("services", []) if s.get("status") == "ACTIVE"}
        found.update({name: active.get(_service_name_of(name)) for name in chunk})
    return found


def _service_name(service: Mapping[str, Any]) -> str:
    return str(service.get("serviceName") or _service_name_of(str(service.get("serviceArn", ""))))


def _service_name_of(name_or_arn: str) -> str:
    """A service named by its name or its ARN (arn:aws:ecs:region:account:service/cluster/name)."""
    return name_or_arn.rsplit("/", 1)[-1] if name_or_arn.startswith("arn:") else name_or_arn
