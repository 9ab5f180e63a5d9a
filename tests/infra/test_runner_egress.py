"""The kops runner's outbound traffic (infra/kops-runner.yaml RunnerEgress), evaluated on the template.

moto ignores a security group's SecurityGroupEgress and a template's Rules, so these are checked on
the template as CloudFormation would resolve it (tests/infra/cfn_resolve.py); the endpoints
themselves are deployed into moto by tests/infra/test_moto_deploy.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.cfn_resolve import Stack
from tests.infra.runner_services import allowed_actions, endpoint_services
from tests.infra.templates import template

IAM_CIDR = "10.255.0.0/24"
SUBNETS = ["subnet-0a", "subnet-0b"]
BASE: dict[str, str | list[str]] = {
    "VpcId": "vpc-0a",
    "RunnerImage": "r/kops:1",
    "KopsClusterName": "demo.k8s.local",
    "RunnerSubnetIds": SUBNETS,
    "RunnerEgress": "vpc-endpoints",  # chosen here; the template's default is internet (a shared VPC's safe choice)
}
ENDPOINT_GROUP = {"GetAtt": "EndpointSecurityGroup.GroupId"}
EVERYWHERE = {"0.0.0.0/0", "::/0"}


def _stack(region: str, **parameters: str) -> Stack:
    return Stack(template("kops-runner.yaml"), {**BASE, **parameters}, region)


def _runner_egress(stack: Stack) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = stack.value(stack.template["Resources"]["SecurityGroup"]["Properties"])[
        "SecurityGroupEgress"
    ]
    return rules


def _role_actions(stack: Stack) -> list[str]:
    actions: list[str] = []
    for role in ("TaskRole", "ExecutionRole"):
        for policy in stack.template["Resources"][role]["Properties"]["Policies"]:
            actions += allowed_actions(policy["PolicyDocument"])
    return actions


def _endpoints(stack: Stack) -> dict[str, dict[str, Any]]:
    """Service name (the part after com.amazonaws.<region>.) -> properties, of the endpoints the stack creates."""
    created = {}
    for logical_id, resource in stack.template["Resources"].items():
        if resource["Type"] == "AWS::EC2::VPCEndpoint" and stack.created(logical_id):
            props = stack.value(resource["Properties"])
            name = props["ServiceName"]
            name = name["Sub"] if isinstance(name, dict) else name
            created[name.replace("com.amazonaws.${AWS::Region}.", "").replace("com.amazonaws.", "")] = props
    return created


ENDPOINT_MODES = [
    pytest.param("eu-west-1", {"IamEndpointCidr": IAM_CIDR}, id="eu-west-1 with the IAM route"),
    pytest.param("us-east-1", {}, id="us-east-1"),
]


@pytest.mark.parametrize(("region", "parameters"), ENDPOINT_MODES)
def test_by_default_the_runner_reaches_only_its_endpoints(region: str, parameters: dict[str, str]) -> None:
    stack = _stack(region, **parameters)
    rules = _runner_egress(stack)

    assert stack.refusals() == []
    assert not {r.get("CidrIp") for r in rules} & EVERYWHERE
    assert not {r.get("CidrIpv6") for r in rules} & EVERYWHERE
    assert {(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in rules} == {("tcp", 443, 443)}
    targets = [r.get("DestinationSecurityGroupId") or r.get("CidrIp") for r in rules]
    assert targets == ([ENDPOINT_GROUP] if region == "us-east-1" else [ENDPOINT_GROUP, IAM_CIDR])


@pytest.mark.parametrize(("region", "parameters"), ENDPOINT_MODES)
def test_every_service_the_runners_roles_call_has_an_endpoint(region: str, parameters: dict[str, str]) -> None:
    stack = _stack(region, **parameters)
    endpoints = _endpoints(stack)
    needed = endpoint_services(_role_actions(stack))

    # Outside us-east-1, IAM's endpoint is reached over Transit Gateway (the CIDR rule above).
    assert needed - set(endpoints) == (set() if region == "us-east-1" else {"iam"})
    for service, props in endpoints.items():
        assert props["VpcEndpointType"] == "Interface", service
        assert props["PrivateDnsEnabled"] is True, service
        assert props["SubnetIds"] == SUBNETS, service
        assert props["SecurityGroupIds"] == [ENDPOINT_GROUP], service


def test_only_the_runner_may_reach_the_endpoints() -> None:
    stack = _stack("eu-west-1", IamEndpointCidr=IAM_CIDR)
    resources = stack.template["Resources"]
    ingress = [
        stack.value(r["Properties"])
        for logical_id, r in resources.items()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress" and stack.created(logical_id)
    ]
    group = stack.value(resources["EndpointSecurityGroup"]["Properties"])

    assert "SecurityGroupIngress" not in group
    assert [(i["GroupId"], i["SourceSecurityGroupId"], i["FromPort"], i["ToPort"]) for i in ingress] == [
        (ENDPOINT_GROUP, {"GetAtt": "SecurityGroup.GroupId"}, 443, 443)
    ]
    # No egress at all: the endpoints only answer (security groups are stateful).
    assert [r["CidrIp"] for r in group["SecurityGroupEgress"]] == ["127.0.0.1/32"]


def test_the_s3_endpoint_reaches_only_the_state_store_and_ecrs_layer_bucket() -> None:
    policy = _endpoints(_stack("eu-west-1", IamEndpointCidr=IAM_CIDR))["s3"]["PolicyDocument"]
    resources = [r["Sub"] for s in policy["Statement"] for r in s["Resource"]]

    assert {(s["Effect"], s["Principal"]) for s in policy["Statement"]} == {("Allow", "*")}
    assert [r[0] if isinstance(r, list) else r for r in resources] == [
        "arn:${AWS::Partition}:s3:::${Bucket}",
        "arn:${AWS::Partition}:s3:::${Bucket}/*",
        "arn:${AWS::Partition}:s3:::prod-${AWS::Region}-starport-layer-bucket/*",
    ]
    # ${Bucket} is the state store, new or existing.
    assert {str(r[1]["Bucket"]) for r in resources if isinstance(r, list)} == {
        "{'If': ['CreateStateStore', {'Ref': 'StateStoreBucket'}, {'Ref': 'ExistingStateStoreBucket'}]}"
    }


def test_internet_mode_keeps_https_anywhere_and_creates_no_endpoint() -> None:
    stack = _stack("eu-west-1", RunnerEgress="internet")

    assert stack.refusals() == []
    assert _runner_egress(stack) == [
        {"Description": "HTTPS to AWS APIs", "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}
    ]
    assert _endpoints(stack) == {}
    assert not stack.created("EndpointSecurityGroup")


def test_endpoints_outside_us_east_1_without_a_route_to_iam_are_refused() -> None:
    (refusal,) = _stack("eu-west-1").refusals()

    assert "IamEndpointCidr" in refusal
    assert "RunnerEgress=internet" in refusal


def test_the_default_keeps_a_shared_vpc_working() -> None:
    """Endpoints with private DNS admit only the runner, VPC-wide: they are chosen, never the default."""
    parameters = template("kops-runner.yaml")["Parameters"]
    assert parameters["RunnerEgress"]["Default"] == "internet"
