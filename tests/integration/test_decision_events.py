"""Decision events on the embedded AWS's EventBridge: a rule routes them to an SQS queue the tests read.

Each recorded applied, failed or recommended decision is put once, with the fields GET /decisions/{id}
returns; a duplicate delivery records nothing new and puts nothing; a PutEvents that fails leaves the
decision as it was, and is logged and counted.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest

from marea_local.decision_inbox import DecisionInbox
from marea_local.demo_resources import put_alarm
from tests.integration.test_alarm_flow import ALARM, fire_alarm, step_policy
from tests.integration.test_kops_launcher import ASG, runner_tasks, stop
from tests.integration.world import (
    asg_desired,
    asg_target,
    kops_target,
    make_asg,
    make_runner_cluster,
    publish_cpu,
    register,
)


@pytest.fixture
def inbox(data_stack: Any) -> DecisionInbox:
    return DecisionInbox(boto3.client("events"), boto3.client("sqs"))


@pytest.fixture
def web(client: Any, clients: dict[str, Any]) -> None:
    make_asg(clients, desired=2)
    register(client, "web", asg_target())


def test_an_applied_decision_is_put_once_with_the_fields_the_api_returns(
    client: Any, clients: dict[str, Any], web: None, inbox: DecisionInbox
) -> None:
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])

    decision = client.http.post("/targets/web/evaluate").json_body

    [event] = inbox.drain()
    assert (event["source"], event["detail-type"]) == ("marea", "Marea Decision")
    assert event["detail"] == client.http.get(f"/decisions/{decision['id']}").json_body
    assert event["detail"]["outcome"] == "applied"


def test_a_recommendation_and_a_failure_are_put_and_a_skipped_decision_is_not(
    client: Any, clients: dict[str, Any], inbox: DecisionInbox
) -> None:
    make_asg(clients, desired=2)
    make_asg(clients, name="idle", desired=2)
    register(client, "advised", asg_target(mode="advise"))
    register(client, "ghost", asg_target(asg_name="does-not-exist"))
    register(client, "idle", asg_target(asg_name="idle"))  # no metric data for it: the decision is skipped
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])

    outcomes = {
        target: client.http.post(f"/targets/{target}/evaluate").json_body["outcome"] for target in ("advised", "ghost")
    }
    idle = client.http.post("/targets/idle/evaluate").json_body

    assert outcomes == {"advised": "recommended", "ghost": "failed"}
    put = {event["detail"]["target_id"]: event["detail"]["outcome"] for event in inbox.drain()}
    assert put == {"advised": "recommended", "ghost": "failed"}
    assert idle["outcome"] == "skipped"


def test_a_duplicate_alarm_event_puts_no_second_decision_event(
    client: Any, clients: dict[str, Any], web: None, inbox: DecisionInbox
) -> None:
    dimensions = {"AutoScalingGroupName": "web"}
    put_alarm(
        clients["cloudwatch"],
        ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions=dimensions,
        threshold=80,
    )
    register(client, "web", asg_target(policies=[*asg_target()["policies"], step_policy()]))
    event = fire_alarm(clients, cpu=95)
    for _ in range(3):
        client.lambda_.invoke("on_alarm_state_change", copy.deepcopy(event))

    put = inbox.drain()
    assert [e["detail"]["outcome"] for e in put] == ["applied"]
    assert asg_desired(clients) == 4


@pytest.mark.parametrize(("runner_status", "exit_code", "outcome"), [("applied", 0, "applied"), (None, 3, "failed")])
def test_a_kops_change_is_put_once_when_its_runner_stops_and_not_while_pending(
    client: Any,
    clients: dict[str, Any],
    inbox: DecisionInbox,
    monkeypatch: pytest.MonkeyPatch,
    runner_status: str | None,
    exit_code: int,
    outcome: str,
) -> None:
    from chalicelib.settings import get_settings

    make_asg(clients, name=ASG, desired=2)
    make_runner_cluster(clients, monkeypatch)
    register(client, "nodes", kops_target())
    publish_cpu(clients["cloudwatch"], ASG, [90, 90, 90])

    pending = client.http.post("/targets/nodes/evaluate").json_body
    assert (pending["outcome"], inbox.drain()) == ("pending", [])
    if runner_status:  # what the runner writes beside its decision (kops_runner/outcome.py), as only it may
        clients["dynamodb"].update_item(
            TableName=get_settings().decisions_table,
            Key={"id": {"S": pending["id"]}},
            UpdateExpression="SET runner_result = :json",
            ExpressionAttributeValues={":json": {"S": json.dumps({"status": runner_status, "message": "done"})}},
        )
    [task] = runner_tasks(clients)
    stop(client, clients, task, exit_code)
    stop(client, clients, task, exit_code)  # the task-state event redelivered: it closes nothing

    [event] = inbox.drain()
    assert event["detail"] == client.http.get(f"/decisions/{pending['id']}").json_body
    assert event["detail"]["outcome"] == outcome


def test_a_change_whose_outcome_write_failed_is_put_once_by_the_evaluation_that_settles_it(
    client: Any, clients: dict[str, Any], web: None, inbox: DecisionInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ASG was changed but the write recording it failed (chalicelib/actuation.py leaves the decision
    pending and marked): nothing is put then; the next evaluation confirms it (unsettled.py) and puts it."""
    from botocore.exceptions import ClientError

    from chalicelib.store.targets import TargetRegistry

    settle = TargetRegistry.settle_actuation

    def failing_once(self: TargetRegistry, *args: Any, **kwargs: Any) -> bool:
        monkeypatch.setattr(TargetRegistry, "settle_actuation", settle)
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "rate exceeded"}}, "TransactWriteItems")

    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
    monkeypatch.setattr(TargetRegistry, "settle_actuation", failing_once)
    first = client.http.post("/targets/web/evaluate").json_body["id"]
    assert (client.http.get(f"/decisions/{first}").json_body["outcome"], asg_desired(clients)) == ("pending", 4)
    assert inbox.drain() == []

    for _ in range(2):  # the one that settles it, and one after: a settled decision is not put again
        client.http.post("/targets/web/evaluate")

    settled = [event["detail"] for event in inbox.drain() if event["detail"]["id"] == first]
    assert settled == [client.http.get(f"/decisions/{first}").json_body]
    assert settled[0]["outcome"] == "applied"


@pytest.mark.parametrize("answer", ["raises", "own-condition-fails"])
def test_a_change_whose_outcome_write_went_through_but_whose_answer_was_lost_is_put_once(
    answer: str, client: Any, clients: dict[str, Any], web: None, inbox: DecisionInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write recording `applied` went through, then its caller saw an error (every retry failing), or
    botocore's retry of it failed the write's own condition (False): nothing else records that outcome again,
    so the write's wrapper reads it back and puts it (review #1: it was never put)."""
    from botocore.exceptions import ClientError

    from chalicelib.store.targets import TargetRegistry

    settle = TargetRegistry.settle_actuation

    def settling_then_losing_the_answer(self: TargetRegistry, *args: Any, **kwargs: Any) -> bool:
        assert settle(self, *args, **kwargs)
        monkeypatch.setattr(TargetRegistry, "settle_actuation", settle)
        if answer == "own-condition-fails":
            return False
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "lost"}}, "TransactWriteItems")

    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
    monkeypatch.setattr(TargetRegistry, "settle_actuation", settling_then_losing_the_answer)
    first = client.http.post("/targets/web/evaluate").json_body["id"]
    for _ in range(2):
        client.http.post("/targets/web/evaluate")

    stored = client.http.get(f"/decisions/{first}").json_body
    assert (stored["outcome"], asg_desired(clients)) == ("applied", 4)
    assert [event["detail"] for event in inbox.drain() if event["detail"]["id"] == first] == [stored]


def test_an_advise_target_that_keeps_its_capacity_puts_no_event(
    client: Any, clients: dict[str, Any], inbox: DecisionInbox
) -> None:
    """Advise mode records a recommendation at every evaluation; only a recommended change is news."""
    make_asg(clients, desired=2)
    register(client, "advised", asg_target(mode="advise"))
    publish_cpu(clients["cloudwatch"], "web", [50, 50, 50])  # at the target: hold

    decision = client.http.post("/targets/advised/evaluate").json_body

    assert (decision["outcome"], decision["action"]) == ("recommended", "none")
    assert inbox.drain() == []


class RefusingEventBridge:
    """Stands in for EventBridge refusing a put, which moto never does for a valid entry on the default bus:
    the role lacking events:PutEvents (a 400 AccessDeniedException, not retried), a partial failure (200 with
    FailedEntryCount 1, as EventBridge answers when an entry could not be put), or throttling (retried)."""

    ANSWERS: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {
        "access-denied": (400, {"__type": "AccessDeniedException", "message": "not authorized to perform PutEvents"}),
        "failed-entry": (
            200,
            {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]},
        ),
        "throttled": (400, {"__type": "ThrottlingException", "message": "Rate exceeded"}),
    }
    # How many PutEvents each answer costs the evaluation: a throttled one is retried, once only
    # (chalicelib/aws.py: an EventBridge outage must not hold the evaluating Lambda for 4 x 13 s).
    ATTEMPTS: ClassVar[dict[str, int]] = {"access-denied": 1, "failed-entry": 1, "throttled": 2}

    def __init__(self, answer: str) -> None:
        status, body = self.ANSWERS[answer]
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                requests.append(self.headers.get("X-Amz-Target", ""))
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("answer", sorted(RefusingEventBridge.ANSWERS))
def test_a_failed_put_leaves_the_decision_and_the_change_intact_and_is_logged_and_counted(
    answer: str,
    client: Any,
    clients: dict[str, Any],
    web: None,
    inbox: DecisionInbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    caplog: Any,
) -> None:
    from chalicelib import wiring

    refusing = RefusingEventBridge(answer)
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", refusing.url)  # only Marea's EventBridge client goes there
    wiring.reset()
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
    try:
        decision = client.http.post("/targets/web/evaluate").json_body
    finally:
        refusing.close()

    assert refusing.requests == ["AWSEvents.PutEvents"] * RefusingEventBridge.ATTEMPTS[answer]
    assert (decision["outcome"], decision["final"]) == ("applied", 4)
    assert client.http.get(f"/decisions/{decision['id']}").json_body == decision
    assert asg_desired(clients) == 4
    assert inbox.drain() == []
    assert "decision event not put: the decision is recorded" in caplog.text
    assert '"DecisionEventsFailed":[1.0]' in capsys.readouterr().out  # the handler's EMF line


def test_a_recommendation_whose_commit_answer_was_lost_is_still_put_once(
    client: Any, clients: dict[str, Any], inbox: DecisionInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit went through but its caller saw an error (a timeout, a throttled retry): the evaluation finds
    its own decision recorded and goes on; nothing else will ever record that outcome, so it is put now."""
    from botocore.exceptions import ClientError

    from chalicelib.store.targets import TargetRegistry

    commit = TargetRegistry.commit_evaluation

    def committing_then_losing_the_answer(self: TargetRegistry, *args: Any, **kwargs: Any) -> Any:
        commit(self, *args, **kwargs)
        monkeypatch.setattr(TargetRegistry, "commit_evaluation", commit)
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "rate exceeded"}}, "TransactWriteItems")

    make_asg(clients, desired=2)
    register(client, "advised", asg_target(mode="advise"))
    publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
    monkeypatch.setattr(TargetRegistry, "commit_evaluation", committing_then_losing_the_answer)

    decision = client.http.post("/targets/advised/evaluate").json_body
    client.http.post("/targets/advised/evaluate")  # a second evaluation, after the lost answer: its own event

    assert decision["outcome"] == "recommended"
    put = [e["detail"]["id"] for e in inbox.drain()]
    assert put[0] == decision["id"]
    assert put.count(decision["id"]) == 1
