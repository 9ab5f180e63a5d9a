"""One run of the runner, wherever it runs: identify the task → refuse any override but the decision id →
pinned settings from the task definition → the decision's request → resize. Exit code 0 applied or dry run,
2 bad request, 3 kops failed, 4 verification failed, 5 deadline passed, 1 unexpected error.

`Platform` holds what differs between Fargate (kops_runner/__main__.py) and the local stand-in
(kops_runner/testing/local_entry.py): how the task is identified, the AWS endpoint, the kops binary.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kops_runner import log
from kops_runner.aws import AwsClients
from kops_runner.deadline import Deadline
from kops_runner.decision import claim, parse_request, read_pending
from kops_runner.errors import RunnerError
from kops_runner.kops_cli import KopsCli
from kops_runner.outcome import Outcome, Status, record, write_stdout
from kops_runner.overrides import decision_id_of, require_only_the_decision_id
from kops_runner.resize import Resize
from kops_runner.settings import PinnedSettings, RunRequest
from kops_runner.task import TaskIdentity, describe


@dataclass(frozen=True)
class Platform:
    identify: Callable[[], TaskIdentity]
    aws: Callable[[str], AwsClients]  # region → clients
    kops_binary: str
    kops_environment: Callable[[str, str | None], Mapping[str, str]]  # region, home → kops' whole environment
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class Report:
    """What the run knows so far, for an outcome that ends it early."""

    decision_id: str | None = None
    decisions_table: str | None = None
    claimed_by: str | None = None  # this task's ARN, once it holds the decision's claim: only then is it recorded
    cluster: str | None = None
    instance_group: str | None = None
    apply: bool = False
    aws: AwsClients | None = None

    def outcome(self, status: Status, message: str) -> Outcome:
        return Outcome(
            decision_id=self.decision_id,
            cluster=self.cluster,
            instance_group=self.instance_group,
            requested=None,
            previous=None,
            applied=False,
            dry_run=not self.apply,
            status=status,
            message=message,
            kops_version=None,
        )


def main(platform: Platform) -> int:
    report = Report()
    try:
        resize = _prepare(platform, report)
    except RunnerError as error:
        return _finish(report.outcome(error.status, str(error)), report)
    except Exception as error:  # the outer boundary: report it, with the stack in the log
        log.event("unexpected_error", traceback=traceback.format_exc())
        return _finish(report.outcome(Status.ERROR, f"unexpected {type(error).__name__}: {error}"), report)
    request = resize.request
    log.event("request", **request.model_dump(include={"decision_id", "cluster", "instance_group", "apply"}))
    try:
        status, message = resize.run()
    except RunnerError as error:
        status, message = error.status, str(error)
    except Exception as error:  # the outer boundary: report it, with the stack in the log
        log.event("unexpected_error", traceback=traceback.format_exc())
        status, message = Status.ERROR, f"unexpected {type(error).__name__}: {error}"
    return _finish(resize.outcome(status, message), report)


def _prepare(platform: Platform, report: Report) -> Resize:
    identity = platform.identify()
    aws = report.aws = platform.aws(identity.region)
    task = describe(aws.ecs(), identity)
    report.decision_id = decision_id_of(task.overrides, identity.container_name)
    pinned = PinnedSettings.registered(task.registered_environment)
    report.cluster, report.apply = pinned.cluster, pinned.apply
    decision_id = require_only_the_decision_id(task.overrides, identity.container_name)
    report.decisions_table = pinned.decisions_table
    stored = read_pending(aws.dynamodb(), pinned.decisions_table, decision_id)
    # Only the task holding the claim runs the decision and records its outcome on it: a task with other
    # overrides, or a second task for the same decision, is not the one Marea started (its outcome: stdout only).
    claim(aws.dynamodb(), pinned.decisions_table, decision_id, identity.task_arn)
    report.claimed_by = identity.task_arn
    request = parse_request(decision_id, stored)
    report.instance_group = request.instance_group
    # AWS always gives createdAt; moto does not, and the runner's own start (later) then bounds the deadline.
    created_at = task.created_at or platform.now()
    run_request = RunRequest.checked(decision_id, request, pinned, created_at)
    kops = KopsCli(
        binary=platform.kops_binary,
        cluster=run_request.cluster,
        state_store=run_request.state_store,
        timeout_s=run_request.kops_timeout_s,
        environment=platform.kops_environment(identity.region, run_request.kops_home),
        deadline=Deadline.until(run_request.deadline, now=platform.now),
    )
    return Resize(run_request, kops, aws.autoscaling)


def _finish(outcome: Outcome, report: Report) -> int:
    # Recorded only by the task holding the decision's claim, in the table its task definition names.
    if report.decisions_table and report.claimed_by and report.aws is not None:
        record(report.aws.dynamodb, report.decisions_table, outcome, report.claimed_by)
    else:
        log.event("outcome_not_recorded", reason="this task holds no claim on a decision (stdout only)")
    log.event("outcome", status=outcome.status, exit_code=int(outcome.exit_code))
    write_stdout(outcome)
    return int(outcome.exit_code)
