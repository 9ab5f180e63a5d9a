"""Targets in other accounts and Regions, read and changed as the role each names, on the embedded AWS.

moto keeps separate state per account and Region and serves an account to the credentials of a role
assumed in it (STS AssumeRole), so the member account's groups and services live apart from Marea's own,
under the same names. What moto cannot do is refuse: it grants any AssumeRole (it evaluates no trust
policy) and has no opt-in Regions. Those refusals are AWS's answers put in front of the call by a botocore
``before-call`` handler (``refuse``): the error AWS documents, parsed by botocore as a real one would be;
everything else runs for real.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib import aws, triggers, wiring
from chalicelib.models.decisions import Decision, Outcome, Trigger, TriggerType
from chalicelib.models.reasons import ReasonCode
from chalicelib.store.items import TARGET_ADAPTER
from marea_local.data_stack import DataStack
from marea_local.demo_resources import put_alarm
from tests.integration.world import (
    HEADERS,
    asg_desired,
    asg_target,
    make_asg,
    make_service,
    minute_floor,
    publish_cpu,
)

MEMBER = "111122223333"
OTHER_MEMBER = "444455556666"
MEMBER_REGION = "us-west-2"
# Named as infra/marea-spoke.yaml names the role for stage "test": the IAM policy guard judges its calls by it.
ROLE = f"arn:aws:iam::{MEMBER}:role/marea-test-spoke"
OTHER_ROLE = f"arn:aws:iam::{OTHER_MEMBER}:role/marea-test-spoke"
NOW = minute_floor(datetime.now(UTC)) + timedelta(seconds=20)


def member_clients(role: str, region: str) -> dict[str, Any]:
    """Clients of the member account (outside Marea's: the test's own view of that account)."""
    given = boto3.client("sts").assume_role(RoleArn=role, RoleSessionName="test-setup")["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=given["AccessKeyId"],
        aws_secret_access_key=given["SecretAccessKey"],
        aws_session_token=given["SessionToken"],
        region_name=region,
    )
    return {name: session.client(name) for name in ("autoscaling", "ec2", "ecs", "cloudwatch")}  # type: ignore[call-overload]


@pytest.fixture
def fixed_clock() -> Iterator[None]:
    wiring.use_clock(lambda: NOW)
    yield
    wiring.use_clock(lambda: datetime.now(UTC))


def register(target_id: str, body: dict[str, Any]) -> None:
    wiring.registry().put(TARGET_ADAPTER.validate_python({"id": target_id, **body}))


def tick(event_id: str = "tick-1") -> dict[str, Decision]:
    trigger = Trigger(type=TriggerType.SCHEDULE, event_id=event_id, at=NOW)
    decisions = triggers.evaluate_together(sorted(wiring.registry().iter_all(), key=lambda s: s.target.id), trigger)
    return {d.target_id: d for d in decisions}


def busy_group(clients: dict[str, Any], name: str = "web", cpu: float = 90.0) -> None:
    make_asg(clients, name, desired=2)
    publish_cpu(clients["cloudwatch"], name, [cpu] * 20, end=minute_floor(NOW))


class Sts:
    """What Marea's AssumeRole calls asked for and were given: session names, and the access key of each."""

    def __init__(self) -> None:
        self.sessions: list[tuple[str, str]] = []  # (role, session name)
        self.keys: dict[str, str] = {}  # access key id -> session name

    def install(self) -> None:
        aws.on_every_client("before-parameter-build.sts.AssumeRole", self._asked)
        aws.on_every_client("after-call.sts.AssumeRole", self._given)

    def _asked(self, params: dict[str, Any], **_: Any) -> None:
        self.sessions.append((params["RoleArn"], params["RoleSessionName"]))

    def _given(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if "Credentials" in parsed:
            self.keys[parsed["Credentials"]["AccessKeyId"]] = self.sessions[-1][1]


def signed_by(operation: str) -> Callable[[], list[str]]:
    """The access key id each ``operation`` request of Marea's clients was signed with (its Authorization)."""
    seen: list[str] = []

    def sent(request: Any, **_: Any) -> None:
        found = re.search(r"Credential=([A-Z0-9]+)/", request.headers.get("Authorization", b"").decode())
        seen.append(found[1] if found else "")

    aws.on_every_client(f"before-send.*.{operation}", sent)
    return lambda: seen


def refuse(operation: str, code: str, message: str, when: Callable[[dict[str, Any], Any], bool]) -> list[int]:
    """AWS's refusal of ``operation`` (HTTP 403, ``code``) where ``when(params, request_signer)`` holds: what moto
    cannot answer itself. Returns a counter of the refusals made."""
    refused = [0]

    def keep(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["test_params"] = dict(params)  # the call's own parameters, before serialisation

    def handler(context: dict[str, Any], request_signer: Any, **_: Any) -> Any:
        if not when(context.get("test_params", {}), request_signer):
            return None
        refused[0] += 1
        response = type("Refusal", (), {"status_code": 403, "headers": {}, "content": b""})()
        return response, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 403}}

    aws.on_every_client(f"before-parameter-build.*.{operation}", keep)
    aws.on_every_client(f"before-call.*.{operation}", handler)
    return refused


def test_a_target_in_another_account_and_region_is_read_and_scaled_there_as_its_role(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    member = member_clients(ROLE, MEMBER_REGION)
    busy_group(clients, cpu=50.0)  # Marea's own "web": at its target
    busy_group(member, cpu=90.0)  # the member account's "web", in another Region: busy
    register("web-home", asg_target("web"))
    # Same group name, another account: another resource, so both may be registered.
    register("web-member", asg_target("web", role_arn=ROLE, region=MEMBER_REGION))
    sts = Sts()
    sts.install()
    signatures = signed_by("SetDesiredCapacity")

    decisions = tick()

    home, away = decisions["web-home"], decisions["web-member"]
    assert (home.current, home.final) == (2, 2)  # decided on its own CPU, not the member's
    assert (away.current, away.final, away.outcome) == (2, 4, Outcome.APPLIED)  # ceil(2 x 90 / 50)
    assert asg_desired(member) == 4
    assert asg_desired(clients) == 2
    # One read session for the role, however many reads; the change in a session named by its decision, and
    # made with that session's key: the member account's CloudTrail ties the change to the decision.
    assert sts.sessions == [(ROLE, "marea-read"), (ROLE, away.id)]
    assert [sts.keys[key] for key in signatures()] == [away.id]


def test_reads_in_a_member_account_are_shared_like_marea_s_own(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    member = member_clients(ROLE, MEMBER_REGION)
    for index in range(3):
        busy_group(member, f"web-{index}", cpu=50.0)
        register(f"web-{index}", asg_target(f"web-{index}", role_arn=ROLE, region=MEMBER_REGION))
        make_service(member, "chat", f"chat-{index}")
        service = {"kind": "ecs", "cluster": "chat", "service": f"chat-{index}", "min": 1, "max": 5}
        register(f"chat-{index}", {**service, "role_arn": ROLE, "region": MEMBER_REGION})
    calls: Counter[str] = Counter()
    aws.on_every_client("before-call.*.*", lambda model, **_: calls.update([model.name]))

    decisions = tick()

    assert len(decisions) == 6
    # the three groups in one describe of their account and Region, the three services of one cluster in one
    assert calls["DescribeAutoScalingGroups"] == 1
    assert calls["DescribeServices"] == 1
    assert calls["GetMetricData"] == 1
    assert calls["AssumeRole"] == 1
    assert all(d.outcome is not Outcome.FAILED for d in decisions.values()), decisions


def test_a_role_marea_may_not_assume_fails_only_the_targets_in_its_account(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    busy_group(clients)
    busy_group(member_clients(ROLE, MEMBER_REGION))
    busy_group(member_clients(OTHER_ROLE, MEMBER_REGION))
    register("web-home", asg_target("web"))
    register("web-member", asg_target("web", role_arn=ROLE, region=MEMBER_REGION))
    register("web-denied", asg_target("web", role_arn=OTHER_ROLE, region=MEMBER_REGION, external_id="wrong-id"))
    # What STS answers when the role's trust policy does not admit the caller (or its external id).
    refused = refuse(
        "AssumeRole",
        "AccessDenied",
        f"User: arn:aws:sts::123456789012:assumed-role/marea-test-on_schedule_tick/x is not authorized to "
        f"perform: sts:AssumeRole on resource: {OTHER_ROLE}",
        lambda params, _: params["RoleArn"] == OTHER_ROLE,
    )

    decisions = tick()

    denied = decisions["web-denied"]
    assert denied.outcome is Outcome.FAILED
    assert denied.reasons == [ReasonCode.RESOURCE_UNREADABLE, ReasonCode.ACCOUNT_UNREACHABLE]
    assert "AccessDenied" in (denied.error or "")
    assert "trust policy must name Marea's Lambda role and the external id" in denied.explanation
    assert refused[0] >= 1
    for target_id in ("web-home", "web-member"):
        assert (decisions[target_id].final, decisions[target_id].outcome) == (4, Outcome.APPLIED), target_id


def test_a_region_not_enabled_in_the_member_account_fails_only_its_targets(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    busy_group(member_clients(ROLE, MEMBER_REGION))
    register("web-member", asg_target("web", role_arn=ROLE, region=MEMBER_REGION))
    register("web-hong-kong", asg_target("web", role_arn=ROLE, region="ap-east-1"))
    # An opt-in Region the account has not enabled refuses the session's token there (IAM User Guide).
    refuse(
        "DescribeAutoScalingGroups",
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        lambda _, signer: signer.region_name == "ap-east-1",
    )

    sts = Sts()
    sts.install()

    decisions = tick()
    again = tick("tick-2")

    failed = decisions["web-hong-kong"]
    assert failed.reasons == [ReasonCode.RESOURCE_UNREADABLE, ReasonCode.ACCOUNT_UNREACHABLE]
    assert "is the Region enabled in that account" in failed.explanation
    assert (decisions["web-member"].final, decisions["web-member"].outcome) == (4, Outcome.APPLIED)
    assert again["web-hong-kong"].reasons == failed.reasons
    # A Region that is not enabled stays so: the role's read session is kept, not assumed again each tick.
    assert [name for _, name in sts.sessions].count("marea-read") == 1


def test_a_refused_session_is_assumed_again_on_the_next_evaluation(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    member = member_clients(ROLE, MEMBER_REGION)
    busy_group(member)
    register("web-member", asg_target("web", role_arn=ROLE, region=MEMBER_REGION))
    sts = Sts()
    sts.install()
    once = refuse(
        "GetMetricData",
        "ExpiredToken",
        "The security token included in the request is expired",
        lambda _, __: once[0] == 0,
    )

    first = tick("tick-1")["web-member"]
    second = tick("tick-2")["web-member"]

    assert first.outcome is Outcome.FAILED
    assert first.reasons == [ReasonCode.EVALUATION_FAILED, ReasonCode.ACCOUNT_UNREACHABLE]
    assert "expired; the next evaluation assumes the role again" in first.explanation
    assert (second.final, second.outcome) == (4, Outcome.APPLIED)
    # the refused read session was dropped: the second tick assumed the role for reading anew
    assert [name for _, name in sts.sessions] == ["marea-read", "marea-read", second.id]


def test_an_alarm_of_a_member_account_triggers_its_targets_only(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    member = member_clients(ROLE, MEMBER_REGION)
    for where in (clients, member):
        busy_group(where)
        put_alarm(
            where["cloudwatch"],
            "web-high",
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions={"AutoScalingGroupName": "web"},
            threshold=70,
        )
    step = {
        "type": "step",
        "name": "burst",
        "alarm_name": "web-high",
        "adjustment_type": "change_in_capacity",
        "steps": [{"lower_bound": 0, "adjustment": 1}],
    }
    register("web-home", asg_target("web", policies=[step]))
    register("web-member", asg_target("web", policies=[step], role_arn=ROLE, region=MEMBER_REGION))

    def event(account: str, region: str) -> dict[str, Any]:
        return {
            "version": "0",
            "id": f"alarm-{account}",
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": account,
            "time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [f"arn:aws:cloudwatch:{region}:{account}:alarm:web-high"],
            "detail": {
                "alarmName": "web-high",
                "state": {"value": "ALARM", "reason": "90 > 70", "timestamp": NOW.isoformat()},
                "previousState": {"value": "OK", "reason": "", "timestamp": NOW.isoformat()},
                "configuration": {"metrics": []},
            },
        }

    own = boto3.client("sts").get_caller_identity()["Account"]  # what the Lambda's context ARN says
    home_region = boto3.session.Session().region_name
    from_member = triggers.handle_alarm_event(event(MEMBER, MEMBER_REGION), own_account=own)
    from_another_region = triggers.handle_alarm_event(event(MEMBER, "eu-west-1"), own_account=own)
    from_marea_s_own = triggers.handle_alarm_event(event(own, home_region), own_account=own)

    assert [d.target_id for d in from_member] == ["web-member"]
    assert from_another_region == []  # the same account's namesake alarm elsewhere is not this target's
    assert [d.target_id for d in from_marea_s_own] == ["web-home"]


def test_the_api_keeps_where_a_target_lives_and_refuses_marea_s_own_region_by_name(client: Any) -> None:
    body = {**asg_target("web"), "role_arn": ROLE, "region": MEMBER_REGION, "external_id": "shared-secret"}
    created = client.http.put("/targets/web-member", headers=HEADERS, body=json.dumps(body))
    assert created.status_code == 201, created.json_body
    read = client.http.get("/targets/web-member").json_body
    assert (read["role_arn"], read["region"], read["external_id"]) == (ROLE, MEMBER_REGION, "shared-secret")
    # A PUT that leaves the role out would move the target to Marea's own account: refused, naming the field.
    moved = client.http.put("/targets/web-member", headers=HEADERS, body=json.dumps(asg_target("web")))
    assert moved.status_code == 400, moved.json_body
    assert "role_arn" in moved.json_body["message"]

    own = boto3.client("sts").get_caller_identity()["Account"]
    own_role = {**asg_target("web"), "role_arn": f"arn:aws:iam::{own}:role/marea-test-spoke"}
    refused = client.http.put("/targets/web-own", headers=HEADERS, body=json.dumps(own_role))
    assert refused.status_code == 400
    assert "is a role of the account Marea runs in" in refused.json_body["message"]

    # A Region in the right shape that AWS does not have: refused at write, not a failure at every evaluation.
    nowhere = {**asg_target("web"), "role_arn": ROLE, "region": "yx-rzt-fuwgtur-u-loadxdc-9"}
    unknown = client.http.put("/targets/web-nowhere", headers=HEADERS, body=json.dumps(nowhere))
    assert unknown.status_code == 400, unknown.json_body
    assert unknown.json_body["message"].startswith("region: 'yx-rzt-fuwgtur-u-loadxdc-9' is not a Region AWS publishes")
    assert client.http.get("/targets/web-nowhere").status_code == 404

    home_region = boto3.session.Session().region_name
    far_cluster = {"kind": "ecs", "cluster": "arn:aws:ecs:eu-west-1:444455556666:cluster/chat", "service": "chat"}
    unnamed = client.http.put("/targets/chat", headers=HEADERS, body=json.dumps({**far_cluster, "min": 1, "max": 4}))
    assert unnamed.status_code == 400
    assert unnamed.json_body["message"].startswith("cluster: an ARN in Region eu-west-1: name it with region")
    named = client.http.put(
        "/targets/web-home", headers=HEADERS, body=json.dumps({**asg_target("web"), "region": home_region})
    )
    assert named.status_code == 400
    assert named.json_body["message"] == f"region: {home_region} is the Region Marea runs in: leave region out"
    for refused_id in ("web-home", "web-own", "chat"):
        assert client.http.get(f"/targets/{refused_id}").status_code == 404


def test_one_role_assumed_with_two_external_ids_is_two_sessions(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None
) -> None:
    member = member_clients(ROLE, MEMBER_REGION)
    asked: list[tuple[str, str | None]] = []
    aws.on_every_client(
        "before-parameter-build.sts.AssumeRole",
        lambda params, **_: asked.append((params["RoleSessionName"], params.get("ExternalId"))),
    )
    for name, external_id in (("web-a", "team-a"), ("web-b", "team-b")):
        busy_group(member, name, cpu=50.0)
        register(name, asg_target(name, role_arn=ROLE, region=MEMBER_REGION, external_id=external_id))

    decisions = tick()

    assert {d.outcome for d in decisions.values()} == {Outcome.SKIPPED}
    assert sorted(asked) == [("marea-read", "team-a"), ("marea-read", "team-b")]


def test_an_account_the_stage_no_longer_allows_is_not_even_read(
    data_stack: DataStack, clients: dict[str, Any], fixed_clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_group(clients)
    busy_group(member_clients(ROLE, MEMBER_REGION))
    register("web-home", asg_target("web"))
    register("web-member", asg_target("web", role_arn=ROLE, region=MEMBER_REGION))
    monkeypatch.setenv("MAREA_ALLOWED_RESOURCES", "asg:*")  # the account was taken off the list since
    wiring.reset()
    wiring.use_clock(lambda: NOW)
    sts = Sts()
    sts.install()

    decisions = tick()

    refused = decisions["web-member"]
    assert (refused.outcome, refused.reasons) == (Outcome.FAILED, [ReasonCode.RESOURCE_NOT_ALLOWED])
    assert "account '111122223333' is not among the resources this stage lets Marea manage" in refused.explanation
    assert sts.sessions == []  # no role assumed there
    assert (decisions["web-home"].final, decisions["web-home"].outcome) == (4, Outcome.APPLIED)
    assert asg_desired(member_clients(ROLE, MEMBER_REGION)) == 2
