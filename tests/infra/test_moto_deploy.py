"""The stacks deployed, in order and wired by their outputs, into moto's CloudFormation on 127.0.0.1.

Deployed in eu-west-1 (the integration tests use us-east-1, and no template may assume a region).
moto skips some resource types (the README lists them; the last test keeps that list honest) and
ignores a few properties, which tests/infra/test_templates.py and the static checks here cover.
"""

from __future__ import annotations

import ast
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from marea_local.embedded_aws import EmbeddedAws, start_embedded_aws
from tests.infra.iam_policy import ContextValue, Policy, Request
from tests.infra.runner_services import allowed_actions, endpoint_services
from tests.infra.templates import INFRA, ROOT, template, templates

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

REGION = "eu-west-1"
STAGE = "test"
KOPS_CLUSTER = "demo.k8s.local"
KOPS_NODE_GROUPS = ("nodes", "spot")
# Resources created only when a parameter asks for them (no certificate, no extra handler in this test).
# IAM's endpoint: us-east-1 only (eu-west-1 reaches it through IAM_ENDPOINT_CIDR).
CONDITIONAL_OFF = {
    ("webapp-asg.yaml", "HttpsListener"),
    ("kops-runner.yaml", "TaskStateHandlerPermission"),
    ("kops-runner.yaml", "IamEndpoint"),
}
IAM_ENDPOINT_CIDR = "10.255.0.0/24"
NOTIFY = "platform-team@example.com"


@dataclass
class Deployment:
    aws: EmbeddedAws
    session: boto3.session.Session
    outputs: dict[str, dict[str, str]]
    physical: dict[str, dict[str, str]]  # stack file -> logical id -> physical id, for what moto created

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.aws.url)  # type: ignore[call-overload]


def _reset(aws: EmbeddedAws) -> None:
    request = urllib.request.Request(f"{aws.url}/moto-api/reset", method="POST")  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
        pass


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    aws = start_embedded_aws()
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    deployed = Deployment(aws=aws, session=session, outputs={}, physical={})
    cloudformation = deployed.client("cloudformation")

    def deploy(name: str, parameters: dict[str, str]) -> dict[str, str]:
        stack = f"marea-{STAGE}-{name.removesuffix('.yaml')}"
        cloudformation.create_stack(
            StackName=stack,
            TemplateBody=(INFRA / name).read_text(encoding="utf-8"),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
        summaries = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        # moto lists the resources it skipped with an empty type.
        deployed.physical[name] = {
            s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries if s["ResourceType"]
        }
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        deployed.outputs[name] = outputs
        return outputs

    try:
        network = deploy("network.yaml", {"Stage": STAGE})
        deploy("marea-data.yaml", {"Stage": STAGE, "NotificationEmail": NOTIFY})
        wiring = {"VpcId": network["VpcId"]}
        subnets = {"PublicSubnetIds": network["PublicSubnetIds"], "PrivateSubnetIds": network["PrivateSubnetIds"]}
        deploy("webapp-asg.yaml", {"Stage": STAGE, **wiring, **subnets, "MinSize": "2", "MaxSize": "6"})
        deploy(
            "kops-runner.yaml",
            {
                "Stage": STAGE,
                **wiring,
                "RunnerImage": f"123456789012.dkr.ecr.{REGION}.amazonaws.com/marea-kops-runner:1.36.2-1",
                "KopsClusterName": KOPS_CLUSTER,
                "KopsInstanceGroups": ",".join(KOPS_NODE_GROUPS),
                "RunnerSubnetIds": network["PrivateSubnetIds"],
                "RunnerEgress": "vpc-endpoints",
                "IamEndpointCidr": IAM_ENDPOINT_CIDR,
            },
        )
        yield deployed
    finally:
        _reset(aws)  # moto's state is per process: leave nothing behind for other tests
        aws.stop()


def _subnets(deployment: Deployment, output: str) -> list[str]:
    return deployment.outputs["network.yaml"][output].split(",")


def test_the_network_has_public_and_private_subnets_in_two_zones(deployment: Deployment) -> None:
    ec2 = deployment.client("ec2")
    public, private = _subnets(deployment, "PublicSubnetIds"), _subnets(deployment, "PrivateSubnetIds")

    for ids in (public, private):
        subnets = ec2.describe_subnets(SubnetIds=ids)["Subnets"]
        assert len({s["AvailabilityZone"] for s in subnets}) == 2
    created = deployment.physical["network.yaml"]
    tables = {
        table["RouteTableId"]: table["Routes"]
        for table in ec2.describe_route_tables(
            RouteTableIds=[created["PublicRouteTable"], created["PrivateRouteTable"]]
        )["RouteTables"]
    }
    public_routes, private_routes = tables[created["PublicRouteTable"]], tables[created["PrivateRouteTable"]]
    assert any(r.get("GatewayId", "").startswith("igw-") for r in public_routes)
    assert any(r.get("NatGatewayId", "").startswith("nat-") for r in private_routes)
    assert not any(r.get("GatewayId", "").startswith("igw-") for r in private_routes)
    # moto creates the associations but does not list them on the route tables.
    for association in ("PublicSubnet1Routes", "PublicSubnet2Routes"):
        assert created[association] == created["PublicRouteTable"]
    for association in ("PrivateSubnet1Routes", "PrivateSubnet2Routes"):
        assert created[association] == created["PrivateRouteTable"]


def test_the_data_stack_creates_the_tables_the_code_uses(deployment: Deployment) -> None:
    dynamodb = deployment.client("dynamodb")
    for resource in template("marea-data.yaml")["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        name = props["TableName"]["Sub"].replace("${Stage}", STAGE)
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == props["KeySchema"]
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        indexes = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])}


def test_applied_and_failed_decision_events_go_to_the_notification_topic(deployment: Deployment) -> None:
    from moto.events.models import EventPattern

    from chalicelib.decision_events import DETAIL_TYPE, SOURCE

    events, sns = deployment.client("events"), deployment.client("sns")
    topic = deployment.outputs["marea-data.yaml"]["DecisionNotificationTopicArn"]
    rule = events.describe_rule(Name=f"marea-{STAGE}-decisions-to-sns")
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == topic
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", NOTIFY)
    # moto skips AWS::SNS::TopicPolicy (README): the grant is read from the template.
    policy = template("marea-data.yaml")["Resources"]["DecisionNotificationTopicPolicy"]["Properties"]
    [grant] = policy["PolicyDocument"]["Statement"]
    assert (grant["Principal"], grant["Action"]) == ({"Service": "events.amazonaws.com"}, "sns:Publish")
    assert grant["Condition"] == {"ArnEquals": {"aws:SourceArn": {"GetAtt": "DecisionNotificationRule.Arn"}}}

    def matches(outcome: str, source: str = SOURCE) -> bool:
        event = {
            "id": "1",
            "account": "123456789012",
            "source": source,
            "time": "2026-12-01T00:00:00Z",
            "region": REGION,
            "resources": [],
            "detail-type": DETAIL_TYPE,
            "detail": {"outcome": outcome},
        }
        # moto's server answers TestEventPattern with nothing: its own matcher, the one its rules use, decides.
        return bool(EventPattern.load(rule["EventPattern"]).matches_event(event))  # type: ignore[arg-type]

    assert [matches(o) for o in ("applied", "failed", "recommended", "skipped")] == [True, True, False, False]
    assert not matches("failed", source="aws.ec2")


def test_the_fan_out_queue_has_a_dead_letter_queue_and_outlives_the_lambda_timeout(deployment: Deployment) -> None:
    sqs = deployment.client("sqs")
    outputs = deployment.outputs["marea-data.yaml"]
    queue = sqs.get_queue_url(QueueName=outputs["EvaluationQueueName"])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    lambda_timeout_s = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))["lambda_timeout"]

    assert redrive["deadLetterTargetArn"].endswith(f":marea-{STAGE}-evaluations-dlq")
    assert int(redrive["maxReceiveCount"]) == 3
    # Lambda refuses an SQS event source whose visibility timeout is shorter than the function's timeout.
    assert int(attributes["VisibilityTimeout"]) >= lambda_timeout_s
    assert attributes["QueueArn"] == outputs["EvaluationQueueArn"]


def test_the_web_tier_spans_two_zones_behind_the_load_balancer_without_scaling_policies(
    deployment: Deployment,
) -> None:
    autoscaling, elbv2 = deployment.client("autoscaling"), deployment.client("elbv2")
    name = f"marea-{STAGE}-web"
    (group,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]

    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (2, 6, 2)
    assert set(group["VPCZoneIdentifier"].split(",")) == set(_subnets(deployment, "PrivateSubnetIds"))
    assert len(set(group["AvailabilityZones"])) == 2
    assert group["HealthCheckType"] == "ELB"
    assert {"Key": "marea:managed", "Value": STAGE} in [{"Key": t["Key"], "Value": t["Value"]} for t in group["Tags"]]
    # Marea decides: no AWS scaling policy may compete with it.
    assert autoscaling.describe_policies(AutoScalingGroupName=name)["ScalingPolicies"] == []
    (target_group_arn,) = group["TargetGroupARNs"]
    (target_group,) = elbv2.describe_target_groups(TargetGroupArns=[target_group_arn])["TargetGroups"]
    assert target_group["HealthCheckPath"] == "/health"
    (balancer,) = elbv2.describe_load_balancers(LoadBalancerArns=target_group["LoadBalancerArns"])["LoadBalancers"]
    assert balancer["Scheme"] == "internet-facing"
    assert {z["SubnetId"] for z in balancer["AvailabilityZones"]} == set(_subnets(deployment, "PublicSubnetIds"))


def test_web_instances_require_imdsv2_and_report_one_minute_metrics(deployment: Deployment) -> None:
    ec2 = deployment.client("ec2")
    versions = ec2.describe_launch_template_versions(LaunchTemplateName=f"marea-{STAGE}-web")["LaunchTemplateVersions"]
    data = versions[0]["LaunchTemplateData"]

    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["Monitoring"]["Enabled"] is True
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True


def test_the_kops_runner_task_and_its_least_privilege_roles(deployment: Deployment) -> None:
    ecs, iam = deployment.client("ecs"), deployment.client("iam")
    outputs = deployment.outputs["kops-runner.yaml"]
    definition = ecs.describe_task_definition(taskDefinition=outputs["TaskDefinitionFamily"])["taskDefinition"]
    (container,) = definition["containerDefinitions"]

    assert ecs.describe_clusters(clusters=[outputs["ClusterName"]])["clusters"][0]["status"] == "ACTIVE"
    assert container["name"] == outputs["ContainerName"] == "kops-runner"
    assert container["readonlyRootFilesystem"] is True
    assert container["logConfiguration"]["options"]["awslogs-group"] == outputs["LogGroupName"]
    role = iam.get_role(RoleName=f"marea-{STAGE}-kops-runner-task")["Role"]
    trust = _document(role["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    document = _document(
        iam.get_role_policy(RoleName=role["RoleName"], PolicyName="resize-kops-instance-groups")["PolicyDocument"]
    )
    statements = {s["Sid"]: s for s in document["Statement"]}
    resize = statements["ResizeThisClustersAllowedNodeGroups"]
    assert resize["Condition"]["StringEquals"]["aws:ResourceTag/KubernetesCluster"] == KOPS_CLUSTER
    assert resize["Resource"].endswith(f":autoScalingGroupName/*.{KOPS_CLUSTER}")
    assert all(a != "*" and not a.endswith(":*") for s in document["Statement"] for a in _actions(s))


def test_the_runner_reaches_an_endpoint_for_every_service_its_roles_call(deployment: Deployment) -> None:
    """The endpoints moto created, against the roles CloudFormation created (egress rules: test_runner_egress.py)."""
    ec2, iam = deployment.client("ec2"), deployment.client("iam")
    outputs, created = deployment.outputs["kops-runner.yaml"], deployment.physical["kops-runner.yaml"]
    actions = []
    for role, policy in (("task", "resize-kops-instance-groups"), ("execution", "pull-image-and-log")):
        raw = iam.get_role_policy(RoleName=f"marea-{STAGE}-kops-runner-{role}", PolicyName=policy)["PolicyDocument"]
        actions += allowed_actions(_document(raw))
    vpc = deployment.outputs["network.yaml"]["VpcId"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    by_service = {e["ServiceName"].removeprefix(f"com.amazonaws.{REGION}."): e for e in endpoints}

    assert outputs["RunnerEgress"] == "vpc-endpoints"
    # IAM is reached over Transit Gateway from eu-west-1 (IAM_ENDPOINT_CIDR), every other service here.
    assert set(by_service) == endpoint_services(actions) - {"iam"}
    for service, endpoint in by_service.items():
        assert endpoint["VpcEndpointType"] == "Interface", service
        assert endpoint["PrivateDnsEnabled"] is True, service
        assert set(endpoint["SubnetIds"]) == set(_subnets(deployment, "PrivateSubnetIds")), service
        assert [g["GroupId"] for g in endpoint["Groups"]] == [outputs["EndpointSecurityGroupId"]], service
    (group,) = ec2.describe_security_groups(GroupIds=[created["EndpointSecurityGroup"]])["SecurityGroups"]
    (ingress,) = group["IpPermissions"]
    assert (ingress["IpProtocol"], ingress["FromPort"], ingress["ToPort"]) == ("tcp", 443, 443)
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [outputs["SecurityGroupId"]]
    assert ingress["IpRanges"] == []
    assert ingress.get("Ipv6Ranges", []) == []


def _runner_task_policy(deployment: Deployment) -> Policy:
    """The task role's policy as CloudFormation resolved it (parameters, conditions, Select/Split)."""
    iam = deployment.client("iam")
    role = f"marea-{STAGE}-kops-runner-task"
    raw = iam.get_role_policy(RoleName=role, PolicyName="resize-kops-instance-groups")["PolicyDocument"]
    return Policy.from_document(role, _document(raw))


_ASG = f"arn:aws:autoscaling:{REGION}:123456789012:autoScalingGroup:1a2b:autoScalingGroupName"
_NODE_TAGS = {
    "aws:ResourceTag/KubernetesCluster": KOPS_CLUSTER,
    "aws:ResourceTag/k8s.io/role/node": "1",
    "aws:ResourceTag/kops.k8s.io/instancegroup": "nodes",
}
_NODE_GROUP = f"{_ASG}/nodes.{KOPS_CLUSTER}"


def _sizes(min_size: int, max_size: int) -> dict[str, str]:
    return {"autoscaling:MinSize": str(min_size), "autoscaling:MaxSize": str(max_size)}


_BUCKET = f"arn:aws:s3:::marea-{STAGE}-kops-state-123456789012-{REGION}"
_DECISIONS = f"arn:aws:dynamodb:{REGION}:123456789012:table/marea-{STAGE}-decisions"
_RUNNER_CLUSTER = {"ecs:cluster": f"arn:aws:ecs:{REGION}:123456789012:cluster/marea-{STAGE}-kops-runner"}
_TAGS_OF_A_CONTROL_PLANE = {
    "aws:ResourceTag/KubernetesCluster": KOPS_CLUSTER,
    "aws:ResourceTag/kops.k8s.io/instancegroup": "nodes",  # named like a node group, to show the tags decide
    "aws:ResourceTag/k8s.io/role/node": "1",
}

# Request keys of the fields a size-only change never sets (each one refused by its own Deny).
_NOT_A_RESIZE: list[tuple[str, ContextValue]] = [
    ("autoscaling:LaunchTemplateVersionSpecified", "true"),
    ("autoscaling:LaunchTemplateVersionSpecified", "false"),
    ("autoscaling:LaunchConfigurationName", "miner"),
    ("autoscaling:VPCZoneIdentifiers", ("subnet-0attacker",)),
    ("autoscaling:InstanceTypes", "p5.48xlarge"),
]

# What the runner's role must allow (its own calls: kops_runner/, kops' size-only change) and refuse.
RUNNER_DECIDES: list[tuple[str, Request, bool]] = [
    (
        "node group of an allowed ig",
        Request("autoscaling:UpdateAutoScalingGroup", f"{_ASG}/nodes.{KOPS_CLUSTER}", _NODE_TAGS),
        True,
    ),
    (
        "a node group not in KopsInstanceGroups",
        Request(
            "autoscaling:UpdateAutoScalingGroup",
            f"{_ASG}/gpu.{KOPS_CLUSTER}",
            {**_NODE_TAGS, "aws:ResourceTag/kops.k8s.io/instancegroup": "gpu"},
        ),
        False,
    ),
    (
        "a control-plane group",
        Request(
            "autoscaling:UpdateAutoScalingGroup",
            f"{_ASG}/nodes.masters.{KOPS_CLUSTER}",
            {**_TAGS_OF_A_CONTROL_PLANE, "aws:ResourceTag/k8s.io/role/control-plane": "1"},
        ),
        False,
    ),
    (
        "a control-plane group of an older kops",
        Request(
            "autoscaling:UpdateAutoScalingGroup",
            f"{_ASG}/nodes.masters.{KOPS_CLUSTER}",
            {**_TAGS_OF_A_CONTROL_PLANE, "aws:ResourceTag/k8s.io/role/master": "1"},
        ),
        False,
    ),
    (
        "a control-plane group without the node tag",
        Request(
            "autoscaling:UpdateAutoScalingGroup",
            f"{_ASG}/control-plane-a.masters.{KOPS_CLUSTER}",
            {"aws:ResourceTag/KubernetesCluster": KOPS_CLUSTER, "aws:ResourceTag/kops.k8s.io/instancegroup": "nodes"},
        ),
        False,
    ),
    # kops' size-only change sends MinSize and MaxSize only (awstasks/autoscalinggroup.go RenderAWS).
    (
        "a size-only change within KopsMaxNodes",
        Request("autoscaling:UpdateAutoScalingGroup", _NODE_GROUP, {**_NODE_TAGS, **_sizes(0, 1000)}),
        True,
    ),
    (
        "a maxSize above KopsMaxNodes",
        Request("autoscaling:UpdateAutoScalingGroup", _NODE_GROUP, {**_NODE_TAGS, **_sizes(0, 1001)}),
        False,
    ),
    *[
        (
            f"a size change that also sets {key}",
            Request("autoscaling:UpdateAutoScalingGroup", _NODE_GROUP, {**_NODE_TAGS, **_sizes(1, 3), key: value}),
            False,
        )
        for key, value in _NOT_A_RESIZE
    ],
    ("kops edit ig of an allowed ig", Request("s3:PutObject", f"{_BUCKET}/{KOPS_CLUSTER}/instancegroup/spot"), True),
    ("another ig's object", Request("s3:PutObject", f"{_BUCKET}/{KOPS_CLUSTER}/instancegroup/control-plane-a"), False),
    ("a CA key", Request("s3:PutObject", f"{_BUCKET}/{KOPS_CLUSTER}/pki/private/kubernetes-ca/keyset.yaml"), False),
    ("a secret", Request("s3:PutObject", f"{_BUCKET}/{KOPS_CLUSTER}/secrets/admin"), False),
    ("the cluster spec", Request("s3:PutObject", f"{_BUCKET}/{KOPS_CLUSTER}/config"), False),
    (
        "nodes' boot config",
        Request("s3:PutObject", f"{_BUCKET}/{KOPS_CLUSTER}/igconfig/node/nodes/nodeupconfig.yaml"),
        False,
    ),
    ("another cluster's object", Request("s3:GetObject", f"{_BUCKET}/prod.k8s.local/config"), False),
    ("kops reads its cluster", Request("s3:GetObject", f"{_BUCKET}/{KOPS_CLUSTER}/config"), True),
    ("kops reads its keysets", Request("s3:GetObject", f"{_BUCKET}/{KOPS_CLUSTER}/pki/private/ca/keyset.yaml"), True),
    (
        "kops lists its instance groups",
        Request("s3:ListBucket", _BUCKET, {"s3:prefix": f"{KOPS_CLUSTER}/instancegroup/"}),
        True,
    ),
    ("a listing of the whole bucket", Request("s3:ListBucket", _BUCKET), False),
    ("a listing of the root", Request("s3:ListBucket", _BUCKET, {"s3:prefix": ""}), False),
    ("a listing of another cluster", Request("s3:ListBucket", _BUCKET, {"s3:prefix": "prod.k8s.local/"}), False),
    (
        "the runner records its outcome",
        Request("dynamodb:UpdateItem", _DECISIONS, {"dynamodb:Attributes": ("id", "runner_result")}),
        True,
    ),
    (
        "the runner claims its decision",
        Request("dynamodb:UpdateItem", _DECISIONS, {"dynamodb:Attributes": ("id", "runner_claim")}),
        True,
    ),
    (
        "an outcome rewritten",
        Request("dynamodb:UpdateItem", _DECISIONS, {"dynamodb:Attributes": ("id", "outcome", "runner_result")}),
        False,
    ),
    (
        "an update that returns the item",
        Request(
            "dynamodb:UpdateItem",
            _DECISIONS,
            {"dynamodb:Attributes": ("id", "runner_result"), "dynamodb:ReturnValues": "ALL_OLD"},
        ),
        False,
    ),
    # ForAllValues holds for a request without the key (IAM); Null "false" requires it (an UpdateItem
    # always names the item's key attribute, so a real request carries it).
    ("an update naming no attribute", Request("dynamodb:UpdateItem", _DECISIONS), False),
    ("the runner reads its decision", Request("dynamodb:GetItem", _DECISIONS), True),
    (
        "the runner describes its own task",
        Request(
            "ecs:DescribeTasks",
            f"arn:aws:ecs:{REGION}:123456789012:task/marea-{STAGE}-kops-runner/0f3c",
            _RUNNER_CLUSTER,
        ),
        True,
    ),
    (
        "a task of another cluster",
        Request(
            "ecs:DescribeTasks",
            f"arn:aws:ecs:{REGION}:123456789012:task/production/0f3c",
            {"ecs:cluster": f"arn:aws:ecs:{REGION}:123456789012:cluster/production"},
        ),
        False,
    ),
    ("the runner's task definition", Request("ecs:DescribeTaskDefinition", "*"), True),
]


@pytest.mark.parametrize(("case", "request_", "allowed"), RUNNER_DECIDES, ids=[c for c, _, _ in RUNNER_DECIDES])
def test_the_runner_role_decides(deployment: Deployment, case: str, request_: Request, allowed: bool) -> None:
    assert _runner_task_policy(deployment).allows(request_) is allowed, case


def _document(raw: Any) -> dict[str, Any]:
    """An IAM document as a dict: moto returns a role's inline policy from CloudFormation as Python repr text."""
    if not isinstance(raw, str):
        document: dict[str, Any] = raw
        return document
    text = urllib.parse.unquote(raw)
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        document = ast.literal_eval(text)
    return document


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_the_kops_state_store_is_encrypted_and_its_events_reach_a_rule(deployment: Deployment) -> None:
    s3, events = deployment.client("s3"), deployment.client("events")
    bucket = deployment.outputs["kops-runner.yaml"]["StateStore"].removeprefix("s3://")
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    rule = events.describe_rule(Name=f"marea-{STAGE}-kops-runner-task-state")
    pattern = json.loads(rule["EventPattern"])

    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert pattern["detail-type"] == ["ECS Task State Change"]
    assert pattern["detail"]["lastStatus"] == ["STOPPED"]
    assert pattern["detail"]["group"] == ["marea-kops-runner"]
    targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert [t["Id"] for t in targets] == ["archive"]


def test_the_properties_moto_ignores_are_in_the_templates() -> None:
    """moto drops these properties when it creates the resources (README); they are checked here instead."""
    kops = template("kops-runner.yaml")["Resources"]
    bucket = kops["StateStoreBucket"]["Properties"]
    task = kops["TaskDefinition"]["Properties"]
    network = template("network.yaml")["Resources"]

    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert (task["RequiresCompatibilities"], task["NetworkMode"]) == (["FARGATE"], "awsvpc")
    assert task["TaskRoleArn"] == {"GetAtt": "TaskRole.Arn"}
    subnets = [r["Properties"] for r in network.values() if r["Type"] == "AWS::EC2::Subnet"]
    assert len(subnets) == 4
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)


def _readme_moto_skips() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("Resource types moto's CloudFormation skips", 1)[1].split("\n\n", 2)[1]
    return set(re.findall(r"`(AWS::[A-Za-z0-9:]+)`", section))


def test_the_readme_lists_exactly_the_resource_types_moto_skips(deployment: Deployment) -> None:
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    skipped_here = {
        resource["Type"]
        for name, physical in deployment.physical.items()
        for logical_id, resource in template(name)["Resources"].items()
        if logical_id not in physical and (name, logical_id) not in CONDITIONAL_OFF
    }
    declared = {r["Type"] for path in templates() for r in template(path.name)["Resources"].values()}
    unsupported = {t for t in declared if t not in get_model_map() or t in NULL_MODELS}

    assert skipped_here <= unsupported
    assert _readme_moto_skips() == unsupported
