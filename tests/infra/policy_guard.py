"""Check that every AWS call Marea makes in a test is allowed by its IAM policy files.

Used by tests/integration/conftest.py around every integration test: the calls chalicelib's
clients make are recorded (tests/infra/aws_calls.py) and evaluated against
.chalice/policy-dev.json and .chalice/policy-prod.json with the test's stage mapped onto each.
A call the deployed Lambdas' role would be refused fails the test that made it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from tests.infra.aws_calls import STAGE_TOKEN, CallRecorder, RecordedCall, recording
from tests.infra.iam_policy import ContextValue, Policy, Request

ROOT = Path(__file__).resolve().parents[2]
POLICY_STAGES = ("dev", "prod")


def policy_path(stage: str) -> Path:
    return ROOT / ".chalice" / f"policy-{stage}.json"


def _staged(value: ContextValue, stage: str) -> ContextValue:
    return (
        value.replace(STAGE_TOKEN, stage)
        if isinstance(value, str)
        else tuple(v.replace(STAGE_TOKEN, stage) for v in value)
    )


def for_stage(request: Request, stage: str) -> Request:
    context = {key: _staged(value, stage) for key, value in request.context.items()}
    return replace(request, resource=request.resource.replace(STAGE_TOKEN, stage), context=context)


def violations(calls: list[RecordedCall], stages: tuple[str, ...] = POLICY_STAGES) -> list[str]:
    """One line per call a stage's policy would refuse (or that cannot be translated)."""
    problems: list[str] = []
    policies = {stage: Policy.load(policy_path(stage)) for stage in stages}
    for call in calls:
        if call.error:
            problems.append(f"{call.operation}: {call.error}")
            continue
        for stage, policy in policies.items():
            problems.extend(
                f"{call.operation}: {policy.name} does not allow {staged}"
                for staged in (for_stage(r, stage) for r in call.requests)
                if not policy.allows(staged)
            )
    return sorted(set(problems))


def _append_dump(calls: list[RecordedCall]) -> None:
    """MAREA_IAM_CALLS_DUMP=<file>: append every recorded IAM request (what Marea's role really needs)."""
    target = os.environ.get("MAREA_IAM_CALLS_DUMP")
    if not target:
        return
    with Path(target).open("a", encoding="utf-8") as dump:
        for call in calls:
            dump.writelines(f"{call.operation}\t{request}\n" for request in call.requests)


@contextmanager
def calls_checked_against_policies() -> Iterator[CallRecorder]:
    """Record the block's calls; on a clean exit, fail if a policy would refuse any of them."""
    with recording() as recorder:
        yield recorder
    _append_dump(recorder.calls)
    problems = violations(recorder.calls)
    if problems:
        raise AssertionError(
            "Marea made AWS calls its deployed IAM role would be refused "
            "(fix .chalice/policy-<stage>.json, see README 'Deploy to AWS'):\n  " + "\n  ".join(problems)
        )
