"""The stage's allow-list and ceilings (chalicelib/resource_limits.py), and the settings that carry them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.models.targets import TargetBase
from chalicelib.resource_limits import AllowList, ResourceLimits
from chalicelib.settings import Settings
from chalicelib.store.items import TARGET_ADAPTER


def target(**fields: Any) -> TargetBase:
    return TARGET_ADAPTER.validate_python({"id": "t", "min": 1, "max": 10, **fields})


ASG = {"kind": "asg", "asg_name": "web-blue"}
ECS_BY_ARN = {
    "kind": "ecs",
    "cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod",
    "service": "arn:aws:ecs:eu-west-1:123456789012:service/prod/chat",
}
KOPS = {"kind": "kops", "cluster_name": "k8s.example.com", "instance_group": "nodes-a", "state_store": "s3://state"}
STEP = {
    "type": "step",
    "name": "burst",
    "alarm_name": "web-cpu-high",
    "adjustment_type": "change_in_capacity",
    "steps": [{"lower_bound": 0, "adjustment": 1}],
}


# A target-tracking policy whose trigger alarm evaluates the target: the allow-list judges that alarm too.
TRACKING = {
    "type": "target_tracking",
    "name": "load",
    "metric": {"type": "custom", "namespace": "App", "metric_name": "Load", "period_s": 10},
    "target_value": 50,
    "trigger_alarm": "web-load-high",
}


def limits(allowed: str) -> ResourceLimits:
    return ResourceLimits(allowed=AllowList.parse(allowed))


@pytest.mark.parametrize("body", [ASG, ECS_BY_ARN, KOPS, {**ASG, "policies": [STEP]}])
def test_an_empty_list_allows_everything_as_before(body: dict[str, Any]) -> None:
    assert limits("").refusal(target(**body)) is None
    assert limits("  ").refusal(target(**body)) is None


@pytest.mark.parametrize(
    ("body", "allowed"),
    [
        (ASG, "asg:web-*"),
        (ECS_BY_ARN, "ecs:prod/*"),  # matched by name, whether the target gives names or ARNs
        (KOPS, "kops:k8s.example.com/nodes-?"),
        ({**ASG, "policies": [STEP]}, "asg:web-*, alarm:web-*"),
        ({**ASG, "policies": [TRACKING]}, "asg:web-*, alarm:web-*"),
    ],
)
def test_a_listed_resource_is_allowed(body: dict[str, Any], allowed: str) -> None:
    assert limits(allowed).refusal(target(**body)) is None


@pytest.mark.parametrize(
    ("body", "allowed", "message"),
    [
        (ASG, "asg:api-*", "Auto Scaling group 'web-blue' is not among the resources this stage lets Marea manage"),
        (ASG, "ecs:*", "(MAREA_ALLOWED_RESOURCES: no asg: entry)"),  # a kind without an entry allows nothing
        (ECS_BY_ARN, "ecs:staging/*", "ECS service 'prod/chat' is not among"),
        (KOPS, "kops:k8s.example.com/masters", "kops instance group 'k8s.example.com/nodes-a' is not among"),
        ({**ASG, "policies": [STEP]}, "asg:web-*", "alarm 'web-cpu-high' is not among"),
        ({**ASG, "policies": [TRACKING]}, "asg:web-*, alarm:api-*", "alarm 'web-load-high' is not among"),
        (ASG, "asg:Web-*", "(MAREA_ALLOWED_RESOURCES: asg:Web-*)"),  # case-sensitive, as AWS names are
    ],
)
def test_a_resource_outside_the_list_is_refused_naming_it(body: dict[str, Any], allowed: str, message: str) -> None:
    refusal = limits(allowed).refusal(target(**body))
    assert refusal is not None
    assert message in refusal


@pytest.mark.parametrize("text", ["web-*", "db:x", "asg:", "asg:web,", ":web"])
def test_a_malformed_list_fails_naming_the_entry(text: str) -> None:
    with pytest.raises(ValueError, match="is not kind:pattern with kind one of asg, ecs, kops, alarm"):
        AllowList.parse(text)


def test_the_ceiling_refuses_a_larger_max_naming_the_setting_and_lowers_an_old_targets_bounds() -> None:
    stage = ResourceLimits(ceilings={"asg": 50, "ecs": 1000, "kops": 1000})
    assert stage.ceiling_refusal(target(**ASG, max=50)) is None
    refusal = stage.ceiling_refusal(target(**ASG, max=51))
    assert refusal is not None
    assert "51 is above this stage's ceiling of 50 for asg targets (MAREA_MAX_CAPACITY_ASG)" in refusal
    lowered = stage.within_ceiling(target(**ASG, min=60, max=80))
    assert (lowered.min, lowered.max) == (50, 50)
    assert stage.within_ceiling(target(**ASG, max=40)) == target(**ASG, max=40)


def test_settings_carry_the_limits_with_defaults_a_platform_team_expects() -> None:
    default = Settings().limits()
    assert default.allowed == AllowList()
    assert dict(default.ceilings) == {"asg": 1000, "ecs": 1000, "kops": 1000}
    set_ = Settings.from_environment({"MAREA_ALLOWED_RESOURCES": "asg:web-*", "MAREA_MAX_CAPACITY_ECS": "200"})
    assert set_.limits().allowed.allows("asg", "web-1")
    assert not set_.limits().allowed.allows("ecs", "prod/chat")
    assert set_.limits().ceilings["ecs"] == 200


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"MAREA_ALLOWED_RESOURCES": "web-*"}, "allowed_resources"),
        ({"MAREA_MAX_CAPACITY_KOPS": "-1"}, "max_capacity_kops"),
        ({"MAREA_KOPS_RUNNER_CLUSTER": "c"}, "set MAREA_KOPS_RUNNER_TASK_DEFINITION, MAREA_KOPS_RUNNER_SUBNETS"),
        (
            {
                "MAREA_KOPS_RUNNER_CLUSTER": "c",
                "MAREA_KOPS_RUNNER_TASK_DEFINITION": "t",
                "MAREA_KOPS_RUNNER_SUBNETS": ",".join(f"subnet-{i}" for i in range(17)),
                "MAREA_KOPS_RUNNER_SECURITY_GROUPS": "sg-1",
            },
            "subnets",  # ECS takes at most 16
        ),
    ],
)
def test_a_bad_stage_setting_fails_naming_it(environment: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.from_environment(environment)


def test_the_runner_placement_comes_from_the_stage_settings() -> None:
    settings = Settings.from_environment(
        {
            "MAREA_KOPS_RUNNER_CLUSTER": "marea-prod-kops-runner",
            "MAREA_KOPS_RUNNER_TASK_DEFINITION": "marea-prod-kops-runner:7",
            "MAREA_KOPS_RUNNER_SUBNETS": "subnet-a, subnet-b",
            "MAREA_KOPS_RUNNER_SECURITY_GROUPS": "sg-1",
        }
    )
    runner = settings.kops_runner()
    assert runner is not None
    assert (runner.ecs_cluster, runner.task_definition, runner.container_name) == (
        "marea-prod-kops-runner",
        "marea-prod-kops-runner:7",
        "kops-runner",
    )
    assert (runner.subnets, runner.security_groups, runner.assign_public_ip) == (
        ("subnet-a", "subnet-b"),
        ("sg-1",),
        False,
    )
    assert Settings().kops_runner() is None  # a stage without kops targets needs none
