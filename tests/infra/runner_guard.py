"""Check every AWS call the kops runner and the kops double make in a test against the runner's IAM role.

The testing entry (kops_runner/testing/local_entry.py, call_log.py) appends each call of the runner's
clients and of the double's to a file; marea_local.kops_local.run_runner_locally hands them to the
observer ``runner_calls_checked`` registers. Each call becomes the IAM requests AWS would authorise
(tests/infra/aws_calls.py where it fits, plus S3 and DynamoDB's condition keys here), evaluated
against infra/kops-runner.yaml's TaskRole policy resolved for that test's deployment: the stage of
the runner's ECS cluster (``marea-<stage>-kops-runner``), and KOPS_CLUSTER_NAME, KOPS_STATE_STORE,
MAREA_INSTANCE_GROUPS, MAREA_MAX_NODES, MAREA_DECISIONS_TABLE as its task definition pins them
(the parameters a deployment gives both).

The double imitates kops: its calls stand for kops' only as far as it imitates them (state-store
reads and writes, DescribeAutoScalingGroups, UpdateAutoScalingGroup of the groups it reconciles);
real kops also reads EC2, IAM and ELB (the role's read statements), which no test here exercises.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import boto3

from kops_runner.settings import DEFAULT_MAX_NODES
from marea_local.kops_local import observing_runner_calls
from tests.infra.aws_calls import PARTITION, UnmappedCallError, iam_requests
from tests.infra.iam_policy import Policy, Request
from tests.infra.templates import template

TEMPLATE = "kops-runner.yaml"
_RUNNER_CLUSTER = re.compile(r"^arn:[^:]+:ecs:([^:]+):(\d+):cluster/marea-(.+)-kops-runner$")


@dataclass(frozen=True)
class Deployment:
    """What a deployment of infra/kops-runner.yaml is given (the template's parameters, and where)."""

    stage: str
    region: str
    account: str
    kops_cluster: str
    bucket: str
    instance_groups: tuple[str, ...]
    max_nodes: str  # KopsMaxNodes, the task definition's MAREA_MAX_NODES
    decisions_table: str  # DecisionsTableName, its MAREA_DECISIONS_TABLE


# ---- the TaskRole's policy, resolved ------------------------------------------------------------


def _sub(text: str, names: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        if match[1] not in names:
            raise KeyError(f"${{{match[1]}}} is not resolved here: add it to tests/infra/runner_guard.py")
        return names[match[1]]

    return re.sub(r"\$\{([^}!]+)\}", value, text)


def _resolve(node: Any, names: dict[str, Any], conditions: dict[str, bool]) -> Any:
    """The intrinsics kops-runner.yaml's TaskRole uses: Ref, Sub, GetAtt, If, Select, Split, Join."""
    if isinstance(node, list):
        return [_resolve(item, names, conditions) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        return {key: _resolve(value, names, conditions) for key, value in node.items()}
    (tag, raw), resolved = next(iter(node.items())), None
    if tag in ("Ref", "GetAtt"):
        resolved = names[raw]
    elif tag == "Sub":
        text, extra = (raw, {}) if isinstance(raw, str) else (raw[0], _resolve(raw[1], names, conditions))
        resolved = _sub(text, {**{k: v for k, v in names.items() if isinstance(v, str)}, **extra})
    elif tag == "If":
        resolved = _resolve(raw[1] if conditions[raw[0]] else raw[2], names, conditions)
    elif tag == "Select":
        index, items = _resolve(raw, names, conditions)
        resolved = items[int(index)]
    elif tag == "Split":
        separator, text = _resolve(raw, names, conditions)
        resolved = text.split(separator)
    elif tag == "Join":
        separator, items = _resolve(raw, names, conditions)
        resolved = separator.join(items)
    else:
        return {key: _resolve(value, names, conditions) for key, value in node.items()}
    return resolved


@lru_cache(maxsize=16)
def task_role_policy(deployment: Deployment) -> Policy:
    """The TaskRole's inline policy as CloudFormation would resolve it for ``deployment`` (existing bucket)."""
    d = deployment
    cluster_arn = f"arn:{PARTITION}:ecs:{d.region}:{d.account}:cluster/marea-{d.stage}-kops-runner"
    names: dict[str, Any] = {
        "AWS::Partition": PARTITION,
        "AWS::Region": d.region,
        "AWS::AccountId": d.account,
        "Stage": d.stage,
        "KopsClusterName": d.kops_cluster,
        "KopsInstanceGroups": list(d.instance_groups),
        "KopsMaxNodes": d.max_nodes,
        "DecisionsTableName": d.decisions_table,
        "ExistingStateStoreBucket": d.bucket,
        "Cluster.Arn": cluster_arn,
    }
    # The state store is the test's own bucket: the template's ExistingStateStoreBucket case.
    conditions = {"CreateStateStore": False, "WithHandler": False, "DefaultDecisionsTable": False}
    role = template(TEMPLATE)["Resources"]["TaskRole"]["Properties"]
    (inline,) = (p for p in role["Policies"] if p["PolicyName"] == "resize-kops-instance-groups")
    return Policy.from_document("kops-runner.yaml TaskRole", _resolve(inline["PolicyDocument"], names, conditions))


def deployment_of(task: dict[str, Any]) -> Deployment:
    """The deployment a runner task belongs to: its cluster's stage, its task definition's pinned variables."""
    match = _RUNNER_CLUSTER.match(task["clusterArn"])
    if match is None:
        raise AssertionError(f"{task['clusterArn']} is not named as infra/kops-runner.yaml names the runner cluster")
    region, account, stage = match[1], match[2], match[3]
    ecs: Any = boto3.client("ecs", region_name=region)
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
    # The registered variables only: a task's overrides are its caller's, not the deployment's.
    pinned = {p["name"]: p["value"] for c in definition["containerDefinitions"] for p in c.get("environment", [])}
    return Deployment(
        stage=stage,
        region=region,
        account=account,
        kops_cluster=pinned["KOPS_CLUSTER_NAME"],
        bucket=pinned["KOPS_STATE_STORE"].removeprefix("s3://").split("/", 1)[0],
        instance_groups=tuple(g for g in pinned.get("MAREA_INSTANCE_GROUPS", "").split(",") if g),
        # Unpinned, the runner's own default; the stack always pins it (KopsMaxNodes).
        max_nodes=pinned.get("MAREA_MAX_NODES", str(DEFAULT_MAX_NODES)),
        decisions_table=pinned["MAREA_DECISIONS_TABLE"],
    )


# ---- calls → IAM requests -----------------------------------------------------------------------

_UPDATE_CLAUSE = re.compile(r"\b(SET|REMOVE|ADD|DELETE)\b", re.IGNORECASE)


def updated_attributes(expression: str, names: dict[str, str]) -> set[str]:
    """The top-level attributes an UpdateExpression writes (SET a = ..., REMOVE b, ADD c :v, DELETE d :v)."""
    found: set[str] = set()
    for section in _UPDATE_CLAUSE.split(expression)[2::2]:
        for action in re.split(r",(?![^()]*\))", section):
            path = action.split("=", 1)[0].strip().split()[0] if action.strip() else ""
            first = re.split(r"[.\[]", path, maxsplit=1)[0]
            if first:
                found.add(names.get(first, first))
    return found


def _s3(operation: str, params: dict[str, Any]) -> list[Request]:
    bucket = f"arn:{PARTITION}:s3:::{params['Bucket']}"
    if operation in ("GetObject", "HeadObject"):  # HeadObject is authorised as s3:GetObject
        return [Request("s3:GetObject", f"{bucket}/{params['Key']}")]
    if operation == "PutObject":
        return [Request("s3:PutObject", f"{bucket}/{params['Key']}")]
    if operation in ("ListObjectsV2", "ListObjects"):  # s3:prefix is absent when the request has no Prefix
        prefix = {"s3:prefix": params["Prefix"]} if "Prefix" in params else {}
        return [Request("s3:ListBucket", bucket, prefix)]
    raise UnmappedCallError(f"s3:{operation}")


def _dynamodb(operation: str, params: dict[str, Any], region: str) -> list[Request]:
    (request,) = iam_requests("dynamodb", operation, params, region, stage_mapped=False)
    context: dict[str, str | tuple[str, ...]] = {}
    if operation == "UpdateItem":
        # dynamodb:Attributes: the key's attributes and those the update writes (DynamoDB developer guide,
        # "Using IAM policy conditions for fine-grained access control").
        written = updated_attributes(params.get("UpdateExpression", ""), params.get("ExpressionAttributeNames", {}))
        context["dynamodb:Attributes"] = tuple(sorted(set(params["Key"]) | written))
    if "ReturnValues" in params:
        context["dynamodb:ReturnValues"] = params["ReturnValues"]
    return [Request(request.action, request.resource, context)]


def runner_requests(call: dict[str, Any]) -> list[Request]:
    service, operation, params, region = call["service"], call["operation"], call["params"], call["region"]
    if service == "s3":
        return _s3(operation, params)
    if service == "dynamodb":
        return _dynamodb(operation, params, region)
    return iam_requests(service, operation, params, region, stage_mapped=False)


# ---- the guard ----------------------------------------------------------------------------------


@dataclass
class RunnerCalls:
    """The refusals seen so far: one line per call the runner's role would refuse (or cannot translate)."""

    problems: list[str] = field(default_factory=list)

    def observe(self, task: dict[str, Any], calls: list[dict[str, Any]]) -> None:
        policy = task_role_policy(deployment_of(task))
        for call in calls:
            label = f"{call['caller']}: {call['service']}.{call['operation']}"
            try:
                requests = runner_requests(call)
            except UnmappedCallError as exc:
                self.problems.append(f"{label}: no IAM translation for {exc}: add one to tests/infra/runner_guard.py")
                continue
            self.problems.extend(f"{label}: the role does not allow {r}" for r in requests if not policy.allows(r))


@contextmanager
def runner_calls_observed() -> Iterator[RunnerCalls]:
    """Collect, without failing, what the runner role would refuse of the runs inside the block."""
    seen = RunnerCalls()
    with observing_runner_calls(seen.observe):
        yield seen


@contextmanager
def runner_calls_checked() -> Iterator[RunnerCalls]:
    """Around a test: on a clean exit, fail if the runner's role would refuse any call its runs made."""
    with runner_calls_observed() as seen:
        yield seen
    problems = sorted(set(seen.problems))
    if problems:
        raise AssertionError(
            "the kops runner (or kops, as the double imitates it) made AWS calls its IAM role "
            "(infra/kops-runner.yaml TaskRole) would refuse:\n  " + "\n  ".join(problems)
        )
