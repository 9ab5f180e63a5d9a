"""`make deploy` and `make destroy`: the stacks in order, the stage's environment from their outputs, the Lambdas.

Everything the README once listed as commands to type by hand, run in order with the values carried
from one step to the next. Bad input (a missing parameter, an unknown stage, no credentials, a stale
vendor/) is refused before anything is created.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marea_deploy import catalogue, lambdas, stacks
from marea_deploy.catalogue import Network, StackKind
from marea_deploy.stage_config import read_config, write_environment

Say = Callable[[str], None]
NO_REGION = "no AWS Region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)"
DEFAULT_SCHEDULE = "rate(1 minute)"  # app.py's when MAREA_SCHEDULE_EXPRESSION is unset


class DeployRefused(Exception):
    """The deploy cannot start as asked; nothing was changed."""


@dataclass(frozen=True)
class DeployRequest:
    stage: str
    project: Path
    optional: tuple[str, ...] = ()  # keys of catalogue.OPTIONAL to deploy or update
    parameters: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # stack key -> key -> value
    network: Network | None = None  # the user's own VPC, when the network stack is not deployed


@dataclass
class DeployReport:
    stacks: dict[str, stacks.Stack] = field(default_factory=dict)  # stack key -> what happened
    environment_changed: list[str] = field(default_factory=list)
    lambdas: lambdas.Lambdas | None = None

    @property
    def changed_anything(self) -> bool:
        return (
            any(s.change in ("created", "updated") for s in self.stacks.values())
            or bool(self.environment_changed)
            or bool(self.lambdas and self.lambdas.changed)
        )


def where(session: Any) -> lambdas.Where:
    from botocore.exceptions import BotoCoreError, ClientError

    if not session.region_name:
        raise DeployRefused(NO_REGION)
    try:
        account = session.client("sts").get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as exc:
        raise DeployRefused(f"cannot tell which AWS account this is ({exc}): check your credentials") from exc
    return lambdas.Where(account=account, region=session.region_name, endpoint=os.environ.get("AWS_ENDPOINT_URL"))


def deploy(session: Any, request: DeployRequest, say: Say) -> DeployReport:
    cloudformation = session.client("cloudformation")
    place = where(session)
    chosen = _chosen(cloudformation, request)
    _check_decisions_table(session, request.stage, cloudformation)
    report = DeployReport()
    network = request.network
    outputs: dict[str, dict[str, str]] = {}
    for kind in chosen:
        if kind.key not in request.optional and kind.optional:
            kept = stacks.found(cloudformation, kind.stack_name(request.stage))
            if kept is not None:  # deployed before, not asked for now: its outputs still wire the Lambdas
                report.stacks[kind.key], outputs[kind.key] = kept, kept.outputs
                say(f"stack {kept.name}: kept as it is (not asked to update)")
            continue
        result = stacks.deploy(cloudformation, _request(session, cloudformation, kind, request, network, outputs))
        report.stacks[kind.key], outputs[kind.key] = result, result.outputs
        say(f"stack {result.name}: {result.change}")
        if kind.key == "network":
            network = Network.from_outputs(result.outputs)
    runner = report.stacks.get("kops-runner")
    environment = catalogue.lambda_environment(outputs, runner.parameters.get("RunnerSubnetIds") if runner else None)
    report.environment_changed = write_environment(
        request.project, request.stage, environment, removed=() if runner else catalogue.runner_variables()
    )
    say(
        f".chalice/config.json stage {request.stage}: "
        + (f"set {', '.join(report.environment_changed)}" if report.environment_changed else "unchanged")
    )
    deploy_environment = {
        "MAREA_FANOUT_QUEUE_NAME": outputs["data"]["EvaluationQueueName"],
        # Chalice reads the tick's rate from app.py when it deploys: unset, it goes back to the default.
        "MAREA_SCHEDULE_EXPRESSION": os.environ.get("MAREA_SCHEDULE_EXPRESSION") or DEFAULT_SCHEDULE,
    }
    report.lambdas = lambdas.deploy(session, request.project, request.stage, deploy_environment, place)
    say(
        f"Lambdas (chalice deploy --stage {request.stage}, tick {deploy_environment['MAREA_SCHEDULE_EXPRESSION']}): "
        + ("deployed" if report.lambdas.changed else "unchanged")
    )
    return report


def _chosen(cloudformation: Any, request: DeployRequest) -> list[StackKind]:
    """The stacks this run deploys or reads, in order; refused when one cannot be given its parameters."""
    if request.stage not in read_config(request.project).get("stages", {}):
        raise DeployRefused(f"stage {request.stage!r} is not in {request.project}/.chalice/config.json")
    unknown = sorted(set(request.optional) - set(catalogue.OPTIONAL)) + sorted(
        set(request.parameters) - set(catalogue.BY_KEY)
    )
    if unknown:
        raise DeployRefused(f"no such stack: {', '.join(unknown)} (the stacks: {', '.join(catalogue.BY_KEY)})")
    for key in request.parameters:
        if catalogue.BY_KEY[key].optional and key not in request.optional:
            raise DeployRefused(f"parameters for {key} given, but not --{key}")
    networked = [k for k in request.optional if catalogue.BY_KEY[k].needs_network]
    if networked and "network" not in request.optional and request.network is None:
        existing = stacks.found(cloudformation, catalogue.BY_KEY["network"].stack_name(request.stage))
        if existing is None:
            raise DeployRefused(
                f"{', '.join(networked)} need a VPC: add --network, or give --vpc-id, --public-subnets and "
                "--private-subnets"
            )
    for kind in catalogue.STACKS:
        described = stacks.describe(cloudformation, kind.stack_name(request.stage))
        if described is not None:
            _check_usable(described)
        if not kind.optional or kind.key in request.optional:
            _check_required(cloudformation, kind, request, described)
    return list(catalogue.STACKS)


def _check_usable(existing: dict[str, Any]) -> None:
    """A stack this run would update or read the outputs of must be settled and usable: refused now, not
    half-way through (a failed stack has no outputs, one in progress cannot be updated)."""
    name, status = existing["StackName"], existing["StackStatus"]
    if status in stacks.UNUSABLE:
        raise DeployRefused(
            f"stack {name} is {status} ({existing.get('StackStatusReason', 'see its events')}): delete it with "
            f"`aws cloudformation delete-stack --stack-name {name}`, then deploy again"
        )
    if status.endswith("_IN_PROGRESS"):
        raise DeployRefused(f"stack {name} is {status}: wait for it to finish, then deploy again")


def _check_required(
    cloudformation: Any, kind: StackKind, request: DeployRequest, existing: dict[str, Any] | None
) -> None:
    defaults = stacks.template_defaults(cloudformation, kind.template_path.read_text(encoding="utf-8"))
    wired = set(
        catalogue.wired_parameters(kind, request.stage, Network("-", "-", "-"), {"data": {"DecisionsTableName": "-"}})
    )
    given = set(request.parameters.get(kind.key, {}))
    kept = {p["ParameterKey"] for p in (existing or {}).get("Parameters", [])}  # an update keeps their values
    missing = sorted(k for k, default in defaults.items() if default is None and k not in wired | given | kept)
    if missing:
        example = " ".join(f"--parameter {kind.key}.{k}=..." for k in missing)
        raise DeployRefused(f"{kind.key} needs {', '.join(missing)}: {example}")
    extra = sorted(given - set(defaults))
    if extra:
        raise DeployRefused(f"{kind.template} has no parameter {', '.join(extra)}")


def _request(
    session: Any,
    cloudformation: Any,
    kind: StackKind,
    request: DeployRequest,
    network: Network | None,
    outputs: dict[str, dict[str, str]],
) -> stacks.StackRequest:
    if kind.needs_network and network is None:
        kept = stacks.found(cloudformation, catalogue.BY_KEY["network"].stack_name(request.stage))
        network = Network.from_outputs(kept.outputs) if kept else None
    parameters = {
        **catalogue.wired_parameters(kind, request.stage, network, outputs),
        **request.parameters.get(kind.key, {}),
    }
    if kind.key == "kops-runner":
        parameters |= _kept_state_store(session, cloudformation, request.stage, parameters)
    return stacks.StackRequest(
        name=kind.stack_name(request.stage),
        body=kind.template_path.read_text(encoding="utf-8"),
        parameters=parameters,
        capabilities=kind.capabilities,
        tags=stacks.stage_tags(request.stage),
    )


def _kept_state_store(session: Any, cloudformation: Any, stage: str, parameters: Mapping[str, str]) -> dict[str, str]:
    """The kops state store a destroyed runner stack kept (Retain), given to the new stack as its existing
    bucket: kops's clusters live there, and creating the bucket again under its name would fail."""
    if parameters.get("ExistingStateStoreBucket") or stacks.describe(
        cloudformation, catalogue.BY_KEY["kops-runner"].stack_name(stage)
    ):
        return {}
    from botocore.exceptions import ClientError

    place = where(session)
    bucket = catalogue.kept_state_store(stage, place.account, place.region)
    try:
        session.client("s3").head_bucket(Bucket=bucket)
    except ClientError:
        return {}
    return {"ExistingStateStoreBucket": bucket}


def _check_decisions_table(session: Any, stage: str, cloudformation: Any) -> None:
    """A decision table kept by `make destroy` would make the data stack's creation fail half-way: refuse now."""
    data = catalogue.BY_KEY["data"].stack_name(stage)
    if stacks.describe(cloudformation, data) is not None:
        return
    table = f"marea-{stage}-decisions"
    dynamodb = session.client("dynamodb")
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        return
    raise DeployRefused(
        f"{table} exists without the stack {data} (kept by `make destroy`): delete it with "
        f"`make destroy STAGE={stage} DESTROY_ARGS=--delete-decisions`, or import it into the stack "
        "(README, Teardown) before deploying"
    )


@dataclass
class DestroyReport:
    lambdas_deleted: bool = False
    stacks_deleted: list[str] = field(default_factory=list)
    stacks_left: list[str] = field(default_factory=list)  # not made by make deploy
    decisions_table: str = ""
    decisions_deleted: bool = False


def destroy(session: Any, stage: str, project: Path, *, delete_decisions: bool, say: Say) -> DestroyReport:
    cloudformation = session.client("cloudformation")
    where(session)
    report = DestroyReport(decisions_table=f"marea-{stage}-decisions")
    report.lambdas_deleted = lambdas.delete(project, stage)
    say(f"Lambdas (chalice delete --stage {stage}): {'deleted' if report.lambdas_deleted else 'none recorded here'}")
    for kind in reversed(catalogue.STACKS):
        existing = stacks.found(cloudformation, kind.stack_name(stage))
        if existing is None:
            continue
        if existing.tags.get(stacks.DEPLOYED_BY["Key"]) != stacks.DEPLOYED_BY["Value"]:
            report.stacks_left.append(existing.name)
            say(f"stack {existing.name}: left (not made by make deploy)")
            continue
        stacks.delete(cloudformation, existing.name)
        report.stacks_deleted.append(existing.name)
        say(f"stack {existing.name}: deleted")
    if catalogue.BY_KEY["kops-runner"].stack_name(stage) in report.stacks_deleted:
        write_environment(project, stage, {}, removed=catalogue.runner_variables())  # the stage runs no runner now
    data_left = catalogue.BY_KEY["data"].stack_name(stage) in report.stacks_left
    table = _decisions_table(session, report.decisions_table, delete=delete_decisions and not data_left)
    report.decisions_deleted = table == "deleted"
    say(f"table {report.decisions_table}: {table}")
    return report


def _decisions_table(session: Any, table: str, *, delete: bool) -> str:
    """What became of the decision table: absent, deleted, or kept (and why)."""
    dynamodb = session.client("dynamodb")
    try:
        dynamodb.describe_table(TableName=table)
    except dynamodb.exceptions.ResourceNotFoundException:
        return "absent"
    if not delete:
        return "kept (the decision log; --delete-decisions removes it once its data stack is gone)"
    dynamodb.delete_table(TableName=table)
    dynamodb.get_waiter("table_not_exists").wait(TableName=table)
    return "deleted"


def parse_parameters(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """`stack.Key=Value` items, as --parameter takes them."""
    parsed: dict[str, dict[str, str]] = {}
    for item in items:
        name, separator, value = item.partition("=")
        stack, dot, key = name.partition(".")
        if not separator or not dot or not stack or not key:
            raise DeployRefused(f"--parameter {item!r}: write STACK.Key=Value, e.g. chat.ImageUri=<image>")
        parsed.setdefault(stack, {})[key] = value
    return parsed
