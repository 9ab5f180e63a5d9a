"""What a deploy left in an AWS account, read back through the AWS APIs: functions, rules, event sources, roles, APIs.

The deploy rehearsal prints it and compares two readings (a second `make deploy` must change none of
it); the tests check the wiring on it. Every field is what AWS (here the embedded AWS) answers, not
what the deploy meant to do.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Function:
    name: str
    arn: str
    handler: str
    runtime: str
    role: str
    environment: dict[str, str]
    code_sha256: str
    last_modified: str
    revision: str


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: dict[str, Any] | None
    schedule: str | None
    targets: tuple[str, ...]  # target ARNs


@dataclass(frozen=True)
class EventSource:
    uuid: str
    queue_arn: str
    function_arn: str
    batch_size: int
    maximum_concurrency: int | None  # ScalingConfig: at most this many invocations at once
    state: str


@dataclass(frozen=True)
class Role:
    name: str
    arn: str
    trusted: tuple[str, ...]  # services that may assume it
    policies: dict[str, dict[str, Any]]  # inline policy name -> document
    attached: tuple[str, ...]  # managed policy ARNs


@dataclass(frozen=True)
class RestApi:
    id: str
    name: str
    deployments: int
    gateway_responses: tuple[tuple[str, str], ...]  # (response type, its application/json template)


@dataclass(frozen=True)
class DeployedResources:
    functions: tuple[Function, ...]
    rules: tuple[Rule, ...]
    event_sources: tuple[EventSource, ...]
    roles: tuple[Role, ...]
    apis: tuple[RestApi, ...]

    def function(self, suffix: str) -> Function:
        (found,) = [f for f in self.functions if f.name.endswith(suffix)]
        return found


def read(session: Any, prefix: str) -> DeployedResources:
    """Everything named `prefix`* (Chalice names each resource <app>-<stage>[-<handler>]), and the functions' roles."""
    functions = _functions(session.client("lambda"), prefix)
    return DeployedResources(
        functions=functions,
        rules=_rules(session.client("events"), prefix),
        event_sources=_event_sources(session.client("lambda"), prefix),
        roles=_roles(session.client("iam"), {f.role for f in functions}),
        apis=_apis(session.client("apigateway"), prefix),
    )


def _functions(client: Any, prefix: str) -> tuple[Function, ...]:
    found = []
    for page in client.get_paginator("list_functions").paginate():
        for item in page["Functions"]:
            if item["FunctionName"].startswith(prefix):
                found.append(
                    Function(
                        name=item["FunctionName"],
                        arn=item["FunctionArn"],
                        handler=item["Handler"],
                        runtime=item["Runtime"],
                        role=item["Role"],
                        environment=item.get("Environment", {}).get("Variables", {}),
                        code_sha256=item["CodeSha256"],
                        last_modified=item["LastModified"],
                        revision=item.get("RevisionId", ""),
                    )
                )
    return tuple(sorted(found, key=lambda f: f.name))


def _rules(client: Any, prefix: str) -> tuple[Rule, ...]:
    found = []
    for rule in client.list_rules(NamePrefix=prefix)["Rules"]:
        targets = client.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        pattern = rule.get("EventPattern")
        found.append(
            Rule(
                name=rule["Name"],
                pattern=json.loads(pattern) if pattern else None,
                schedule=rule.get("ScheduleExpression"),
                targets=tuple(sorted(t["Arn"] for t in targets)),
            )
        )
    return tuple(sorted(found, key=lambda r: r.name))


def _event_sources(client: Any, prefix: str) -> tuple[EventSource, ...]:
    found = [
        EventSource(
            uuid=m["UUID"],
            queue_arn=m["EventSourceArn"],
            function_arn=m["FunctionArn"],
            batch_size=m["BatchSize"],
            maximum_concurrency=(m.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            state=m.get("State", ""),
        )
        for m in client.list_event_source_mappings()["EventSourceMappings"]
        if m["FunctionArn"].rsplit(":", 1)[-1].startswith(prefix)
    ]
    return tuple(sorted(found, key=lambda m: m.function_arn))


def _roles(client: Any, arns: set[str]) -> tuple[Role, ...]:
    """The functions' roles (other stacks' roles, e.g. the network's flow logs, are theirs to check)."""
    found = []
    for role in client.list_roles()["Roles"]:
        name = role["RoleName"]
        if role["Arn"] not in arns:
            continue
        trust = role["AssumeRolePolicyDocument"]
        if isinstance(trust, str):
            trust = json.loads(urllib.parse.unquote(trust))
        policies = {
            policy: _document(client.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
            for policy in client.list_role_policies(RoleName=name)["PolicyNames"]
        }
        attached = client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        found.append(
            Role(
                name=name,
                arn=role["Arn"],
                trusted=tuple(sorted(_services(trust))),
                policies=policies,
                attached=tuple(sorted(p["PolicyArn"] for p in attached)),
            )
        )
    return tuple(sorted(found, key=lambda r: r.name))


def _document(document: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else document
    return parsed


def _services(trust: dict[str, Any]) -> list[str]:
    services: list[str] = []
    for statement in trust.get("Statement", []):
        service = statement.get("Principal", {}).get("Service", [])
        services += [service] if isinstance(service, str) else list(service)
    return services


def _apis(client: Any, prefix: str) -> tuple[RestApi, ...]:
    found = []
    for api in client.get_rest_apis()["items"]:
        if not api["name"].startswith(prefix.split("-")[0]):
            continue
        deployments = client.get_deployments(restApiId=api["id"])["items"]
        responses = client.get_gateway_responses(restApiId=api["id"])["items"]
        found.append(
            RestApi(
                id=api["id"],
                name=api["name"],
                deployments=len(deployments),
                gateway_responses=tuple(
                    sorted(
                        (r["responseType"], r.get("responseTemplates", {}).get("application/json", ""))
                        for r in responses
                    )
                ),
            )
        )
    return tuple(sorted(found, key=lambda a: a.id))
