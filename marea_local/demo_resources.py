"""The demo's workloads in the embedded AWS: a web ASG and a chat service on ECS Fargate.

Shared by `make demo` and the integration tests, so both exercise the same set-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEMO_AMI = "ami-12c6146b"  # an image moto knows; never launched anywhere real
# Marea's IAM policy for a stage scales only what carries the stage's own value (infra/*.yaml tag so too).
MANAGED_TAG_KEY = "marea:managed"


def managed_tag(stage: str) -> dict[str, str]:
    """The tag that lets stage ``stage``'s Marea scale a resource (Auto Scaling's Key/Value form)."""
    return {"Key": MANAGED_TAG_KEY, "Value": stage}


def managed_ecs_tags(stage: str) -> list[dict[str, str]]:
    """The same tag in ECS's key/value form."""
    return [{"key": MANAGED_TAG_KEY, "value": stage}]


@dataclass(frozen=True)
class Network:
    subnet_ids: list[str]
    security_group_id: str


def default_network(ec2: Any) -> Network:
    vpc_id = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    return Network(subnet_ids=[s["SubnetId"] for s in subnets[:2]], security_group_id=groups[0]["GroupId"])


def create_web_asg(
    ec2: Any, autoscaling: Any, name: str, *, stage: str, min_size: int, max_size: int, desired: int
) -> None:
    """An Auto Scaling group across two subnets, tagged so stage ``stage``'s IAM policy may scale it."""
    network = default_network(ec2)
    template = f"{name}-lt"
    ec2.create_launch_template(
        LaunchTemplateName=template, LaunchTemplateData={"ImageId": DEMO_AMI, "InstanceType": "t3.micro"}
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": template, "Version": "$Latest"},
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=desired,
        VPCZoneIdentifier=",".join(network.subnet_ids),
        Tags=[
            {**managed_tag(stage), "ResourceId": name, "ResourceType": "auto-scaling-group", "PropagateAtLaunch": False}
        ],
    )


def create_fargate_service(ec2: Any, ecs: Any, cluster: str, service: str, *, stage: str, desired: int) -> None:
    """An ECS cluster and a Fargate service tagged for stage ``stage`` (moto needs securityGroups, container memory)."""
    network = default_network(ec2)
    ecs.create_cluster(clusterName=cluster)
    family = f"{service}-task"
    ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": service,
                "image": "public.ecr.aws/marea/chat:latest",
                "memory": 512,
                "portMappings": [{"containerPort": 8080}],
            }
        ],
    )
    ecs.create_service(
        cluster=cluster,
        serviceName=service,
        taskDefinition=family,
        desiredCount=desired,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": network.subnet_ids,
                "securityGroups": [network.security_group_id],
                "assignPublicIp": "DISABLED",
            }
        },
        tags=managed_ecs_tags(stage),
    )
    # moto reports runningCount 0 for a new service until its first update (then running = desired);
    # Marea sizes scale-outs from the running tasks, so start the demo with its tasks running.
    ecs.update_service(cluster=cluster, service=service, desiredCount=desired)


def put_alarm(
    cloudwatch: Any,
    name: str,
    *,
    namespace: str,
    metric_name: str,
    dimensions: dict[str, str],
    threshold: float,
    evaluation_periods: int = 2,
    datapoints_to_alarm: int = 2,
    statistic: str = "Average",
    comparison: str = "GreaterThanThreshold",
) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName=metric_name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        Statistic=statistic,
        Period=60,
        EvaluationPeriods=evaluation_periods,
        DatapointsToAlarm=datapoints_to_alarm,
        Threshold=threshold,
        ComparisonOperator=comparison,
        TreatMissingData="missing",
        ActionsEnabled=False,
    )


def create_kops_runner_cluster(
    ec2: Any,
    ecs: Any,
    stage: str = "local",
    *,
    kops_cluster: str,
    state_store: str,
    instance_groups: Sequence[str],
    decisions_table: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ECS cluster and Fargate task definition of the kops runner, named as infra/kops-runner.yaml names them
    for ``stage`` and pinned as it pins them; returns where the runner runs
    (a ``KopsRunner``'s fields; ``runner_environment`` turns it into the stage's settings).

    ``decisions_table`` defaults to the one Marea's settings name (MAREA_DECISIONS_TABLE); ``settings`` adds pinned
    variables (MAREA_MAX_NODES, MAREA_VERIFY_INTERVAL_S...)."""
    network = default_network(ec2)
    name = f"marea-{stage}-kops-runner"
    ecs.create_cluster(clusterName=name)
    table = decisions_table or os.environ.get("MAREA_DECISIONS_TABLE", "marea-decisions")
    register_kops_runner_task_definition(
        ecs, name, runner_settings(kops_cluster, state_store, instance_groups, table, settings)
    )
    return {
        "ecs_cluster": name,
        "task_definition": name,
        "subnets": network.subnet_ids,
        "security_groups": [network.security_group_id],
    }


def runner_environment(runner: dict[str, Any]) -> dict[str, str]:
    """The stage settings (MAREA_KOPS_RUNNER_*) that tell Marea where the kops runner runs."""
    return {
        "MAREA_KOPS_RUNNER_CLUSTER": runner["ecs_cluster"],
        "MAREA_KOPS_RUNNER_TASK_DEFINITION": runner["task_definition"],
        "MAREA_KOPS_RUNNER_SUBNETS": ",".join(runner["subnets"]),
        "MAREA_KOPS_RUNNER_SECURITY_GROUPS": ",".join(runner["security_groups"]),
    }


def runner_settings(
    kops_cluster: str,
    state_store: str,
    instance_groups: Sequence[str],
    decisions_table: str,
    settings: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The runner's pinned configuration (kops_runner/settings.py PinnedSettings), as its task definition holds it."""
    return {
        "KOPS_CLUSTER_NAME": kops_cluster,
        "KOPS_STATE_STORE": state_store,
        "MAREA_INSTANCE_GROUPS": ",".join(instance_groups),
        "MAREA_DECISIONS_TABLE": decisions_table,
        "MAREA_APPLY": "true",
        **(settings or {}),
    }


def register_kops_runner_task_definition(ecs: Any, family: str, environment: Mapping[str, str]) -> str:
    """A revision of the runner's task definition with ``environment`` registered; RunTask of the family takes
    the newest. Returns its ARN."""
    response = ecs.register_task_definition(
        family=family,
        taskRoleArn=f"arn:aws:iam::123456789012:role/{family}-task",
        executionRoleArn=f"arn:aws:iam::123456789012:role/{family}-execution",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "kops-runner",
                "image": "marea/kops-runner:1.36.2",
                "memory": 512,
                "environment": [{"name": key, "value": value} for key, value in environment.items()],
            }
        ],
    )
    arn: str = response["taskDefinition"]["taskDefinitionArn"]
    return arn
