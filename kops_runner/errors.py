"""The runner's errors: each carries the outcome status (and so the exit code) it ends the run with."""

from __future__ import annotations

from kops_runner.outcome import Status


class RunnerError(Exception):
    status: Status = Status.ERROR


class BadRequest(RunnerError):
    """Not a node group, out of range, unknown instance group or cluster: retrying will not help."""

    status = Status.BAD_REQUEST


class KopsFailed(RunnerError):
    """A kops call exited non-zero, timed out, or printed something the runner cannot read."""

    status = Status.KOPS_FAILED


class VerificationFailed(RunnerError):
    """kops reported success but the state store or the Auto Scaling group does not show the new sizes."""

    status = Status.VERIFICATION_FAILED


class DeadlinePassed(RunnerError):
    """The run reached its deadline (its runner_request.deadline): Marea's lease ends soon after, so it stops."""

    status = Status.DEADLINE_PASSED
