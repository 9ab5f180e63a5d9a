"""`python -m kops_runner`: the task's entrypoint. Exit code 0 applied or dry run, 2 bad request,
3 kops failed, 4 verification failed, 5 deadline passed, 1 unexpected error; one JSON outcome line on stdout."""

from __future__ import annotations

import traceback

from pydantic import ValidationError

from kops_runner import aws, log
from kops_runner.deadline import Deadline
from kops_runner.errors import RunnerError
from kops_runner.kops_cli import KopsCli
from kops_runner.outcome import Outcome, Status, record, write_stdout
from kops_runner.resize import Resize
from kops_runner.settings import ReportTo, RunRequest


def main() -> int:
    report_to = ReportTo()
    try:
        request = RunRequest()
    except ValidationError as error:
        return _finish(_rejected(report_to, error), report_to.decisions_table)
    kops = KopsCli(
        binary=request.kops_binary,
        cluster=request.cluster,
        state_store=request.state_store,
        timeout_s=request.kops_timeout_s,
        deadline=Deadline.until(request.deadline),
    )
    resize = Resize(request, kops, aws.autoscaling)
    log.event("request", **request.model_dump(include={"decision_id", "cluster", "instance_group", "apply"}))
    try:
        status, message = resize.run()
    except RunnerError as error:
        status, message = error.status, str(error)
    except Exception as error:  # the outer boundary: report it, with the stack in the log
        log.event("unexpected_error", traceback=traceback.format_exc())
        status, message = Status.ERROR, f"unexpected {type(error).__name__}: {error}"
    return _finish(resize.outcome(status, message), request.decisions_table)


def _rejected(report_to: ReportTo, error: ValidationError) -> Outcome:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'request'}: {problem['msg'].removeprefix('Value error, ')}"
        for problem in error.errors(include_url=False)
    )
    return Outcome(
        decision_id=report_to.decision_id,
        cluster=report_to.cluster,
        instance_group=report_to.instance_group,
        requested=None,
        previous=None,
        applied=False,
        dry_run=not report_to.apply,
        status=Status.BAD_REQUEST,
        message=f"invalid request: {problems}",
        kops_version=None,
    )


def _finish(outcome: Outcome, decisions_table: str | None) -> int:
    if decisions_table:
        record(aws.dynamodb, decisions_table, outcome)
    log.event("outcome", status=outcome.status, exit_code=int(outcome.exit_code))
    write_stdout(outcome)
    return int(outcome.exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
