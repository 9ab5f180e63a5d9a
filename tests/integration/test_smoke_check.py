"""infra/smoke_check.py on moto: the call it makes, what it refuses, what it leaves behind.

moto does not evaluate IAM policies, so whether AWS allows the call is what the script checks on AWS
itself after a deploy; here: it sends Marea's UpdateService with the service's own count, under a
temporary role holding the stage's policy, and removes that role, whatever happens.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from infra import smoke_check
from marea_local.embedded_aws import EmbeddedAws


def _service(ecs: Any, tags: list[dict[str, str]]) -> None:
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 64}])
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition="web", desiredCount=3, tags=tags)


def test_it_sends_the_services_own_count_under_the_stage_policy_and_removes_its_role(
    embedded_aws: EmbeddedAws,
) -> None:
    embedded_aws.reset()
    ecs, iam = boto3.client("ecs"), boto3.client("iam")
    _service(ecs, [{"key": "marea:managed", "value": "prod"}])
    sent: list[dict[str, Any]] = []
    policies: list[str] = []
    session = boto3.session.Session()
    session.events.register("before-parameter-build.ecs.UpdateService", lambda params, **_: sent.append(dict(params)))
    session.events.register(
        "before-parameter-build.iam.PutRolePolicy", lambda params, **_: policies.append(params["PolicyDocument"])
    )

    message = smoke_check.check(session, "prod", "demo", "web")

    assert sent == [{"cluster": "demo", "service": "web", "desiredCount": 3}]
    assert json.loads(policies[0]) == json.loads((smoke_check.ROOT / ".chalice" / "policy-prod.json").read_text())
    assert "desiredCount=3 allowed" in message
    assert ecs.describe_services(cluster="demo", services=["web"])["services"][0]["desiredCount"] == 3
    assert smoke_check.smoke_role_name("prod") not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


@pytest.mark.parametrize("tags", [[], [{"key": "marea:managed", "value": "dev"}]])
def test_a_service_the_stage_does_not_scale_is_refused_before_anything_is_created(
    embedded_aws: EmbeddedAws, tags: list[dict[str, str]]
) -> None:
    embedded_aws.reset()
    ecs, iam = boto3.client("ecs"), boto3.client("iam")
    _service(ecs, tags)

    assert smoke_check.main(["--stage", "prod", "--cluster", "demo", "--service", "web"]) == 2
    assert smoke_check.main(["--stage", "prod", "--cluster", "demo", "--service", "missing"]) == 2
    assert smoke_check.smoke_role_name("prod") not in [r["RoleName"] for r in iam.list_roles()["Roles"]]
