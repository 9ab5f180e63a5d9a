"""CloudFormation stacks created, updated or left alone, saying which.

A parameter an update is not given keeps the value the stack has (UsePreviousValue), as `aws
cloudformation deploy` keeps it: a value given once with --parameter stays until it is given again,
never falls back to the template's default. A stack whose template, parameters and tags are what is
deployed already is not touched at all (no UpdateStack), so a second `make deploy` changes nothing;
AWS's own "No updates are to be performed" counts as unchanged too. Templates go as a TemplateBody
(all of infra/ is under its 51,200-byte limit).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError, WaiterError

TEMPLATE_BODY_LIMIT = 51_200  # bytes; above it CloudFormation wants the template in S3 (TemplateURL)
DEPLOYED_BY = {"Key": "marea:deployed-by", "Value": "marea-deploy"}  # what `make destroy` may delete
_WAIT = {"Delay": 5, "MaxAttempts": 720}  # an hour: an ElastiCache or NAT gateway stack takes minutes

Change = Literal["created", "updated", "unchanged"]

_OPERATION_STARTS = frozenset({"CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"})
# A stack in one of these can be neither updated nor relied on for its outputs until it is deleted or settles.
UNUSABLE = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED"})


class StackFailed(Exception):
    """A stack could not be deployed or deleted; the message says which and why."""


@dataclass(frozen=True)
class StackRequest:
    name: str
    body: str
    parameters: dict[str, str]
    capabilities: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Stack:
    name: str
    change: Change | None  # None: found as it was, not deployed by this run
    outputs: dict[str, str]
    parameters: dict[str, str]
    tags: dict[str, str]


def stage_tags(stage: str) -> tuple[tuple[str, str], ...]:
    return (("app", "marea"), ("marea:stage", stage), (DEPLOYED_BY["Key"], DEPLOYED_BY["Value"]))


def describe(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """The stack as DescribeStacks gives it; None when there is none (a deleted one included)."""
    try:
        found: dict[str, Any] = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return None if found["StackStatus"] == "DELETE_COMPLETE" else found


def found(cloudformation: Any, name: str) -> Stack | None:
    described = describe(cloudformation, name)
    return None if described is None else _stack(described, change=None)


def template_defaults(cloudformation: Any, body: str) -> dict[str, str | None]:
    """Each parameter of the template with its default (None: it has none, a value must be given)."""
    summary = cloudformation.get_template_summary(TemplateBody=body)
    return {p["ParameterKey"]: p.get("DefaultValue") for p in summary.get("Parameters", [])}


def deploy(cloudformation: Any, request: StackRequest) -> Stack:
    """Create the stack, update it, or leave it as it is when nothing would change; the outputs either way."""
    if len(request.body.encode()) > TEMPLATE_BODY_LIMIT:
        raise StackFailed(f"{request.name}: the template is over {TEMPLATE_BODY_LIMIT} bytes (CloudFormation's limit)")
    current = describe(cloudformation, request.name)
    if current is None:
        cloudformation.create_stack(**_arguments(request))
        return _settled(cloudformation, request.name, "stack_create_complete", "created")
    status = current["StackStatus"]
    if status == "ROLLBACK_COMPLETE":
        raise StackFailed(
            f"{request.name} failed to create before ({current.get('StackStatusReason', status)}) and can only be "
            f"deleted: aws cloudformation delete-stack --stack-name {request.name}, then deploy again"
        )
    if status.endswith("_IN_PROGRESS"):
        raise StackFailed(f"{request.name} is {status}: wait for it to finish, then deploy again")
    kept = _kept_parameters(cloudformation, request, current)
    if _same(cloudformation, request, current, kept):
        return _stack(current, change="unchanged")
    try:
        cloudformation.update_stack(**_arguments(request, kept))
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            return _stack(current, change="unchanged")
        raise
    return _settled(cloudformation, request.name, "stack_update_complete", "updated")


def delete(cloudformation: Any, name: str) -> None:
    cloudformation.delete_stack(StackName=name)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=_WAIT)
    except WaiterError as exc:
        raise StackFailed(f"{name} was not deleted: {_reason(cloudformation, name, exc)}") from exc


def _arguments(request: StackRequest, kept: frozenset[str] = frozenset()) -> dict[str, Any]:
    given = [{"ParameterKey": key, "ParameterValue": value} for key, value in request.parameters.items()]
    return {
        "StackName": request.name,
        "TemplateBody": request.body,
        "Parameters": [*given, *({"ParameterKey": key, "UsePreviousValue": True} for key in sorted(kept))],
        "Capabilities": list(request.capabilities),
        "Tags": [{"Key": key, "Value": value} for key, value in request.tags],
    }


def _kept_parameters(cloudformation: Any, request: StackRequest, current: dict[str, Any]) -> frozenset[str]:
    """The parameters of the new template that the stack has and this request does not give."""
    deployed = _stack(current, change=None).parameters
    template = template_defaults(cloudformation, request.body)
    return frozenset(key for key in template if key in deployed and key not in request.parameters)


def _same(cloudformation: Any, request: StackRequest, current: dict[str, Any], kept: frozenset[str]) -> bool:
    """The deployed stack has this template, these tags and these parameters: those given, the previous
    value of those kept, the template's default for any other."""
    deployed_body = cloudformation.get_template(StackName=request.name)["TemplateBody"]
    if deployed_body != request.body:
        return False
    deployed = _stack(current, change=None).parameters
    expected = {
        **template_defaults(cloudformation, request.body),
        **{key: deployed[key] for key in kept},
        **request.parameters,
    }
    tags = {t["Key"]: t["Value"] for t in current.get("Tags", [])}
    return deployed == expected and tags == dict(request.tags)


def _settled(cloudformation: Any, name: str, waiter: str, change: Change) -> Stack:
    try:
        cloudformation.get_waiter(waiter).wait(StackName=name, WaiterConfig=_WAIT)
    except WaiterError as exc:
        raise StackFailed(f"{name} was not {change}: {_reason(cloudformation, name, exc)}") from exc
    described = describe(cloudformation, name)
    if described is None:
        raise StackFailed(f"{name} was not {change}: it is gone")
    return _stack(described, change=change)


def _reason(cloudformation: Any, name: str, exc: WaiterError) -> str:
    """The first resource that failed in the stack's latest operation, as its events name it; else the
    waiter's own reason. Events come newest first; the operation began at the stack's own newest
    *_IN_PROGRESS event, so an older operation's failure is never reported as this one's."""
    try:
        events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    except ClientError:
        return str(exc)
    this_operation = []
    for event in events:
        if event.get("LogicalResourceId") == name and event.get("ResourceStatus") in _OPERATION_STARTS:
            break
        this_operation.append(event)
    failures = [e for e in this_operation if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
    if not failures:
        return str(exc)
    first = failures[-1]
    return f"{first['LogicalResourceId']}: {first.get('ResourceStatusReason', first['ResourceStatus'])}"


def _stack(described: dict[str, Any], change: Change | None) -> Stack:
    return Stack(
        name=described["StackName"],
        change=change,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        parameters={p["ParameterKey"]: _value(p.get("ParameterValue", "")) for p in described.get("Parameters", [])},
        tags={t["Key"]: t["Value"] for t in described.get("Tags", [])},
    )


def _value(parameter: str) -> str:
    """A parameter's value as it was given. AWS answers a list parameter as it took it ("a,b"); moto 5.2.5 as
    Python's repr of a list ("['a', 'b']"), which would make every list parameter look changed."""
    if parameter.startswith("[") and parameter.endswith("]"):
        try:
            items = ast.literal_eval(parameter)
        except (ValueError, SyntaxError):
            return parameter
        if isinstance(items, list):
            return ",".join(str(item) for item in items)
    return parameter
