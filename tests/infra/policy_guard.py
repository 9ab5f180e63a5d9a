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
from functools import lru_cache
from pathlib import Path

from tests.infra.aws_calls import PARTITION, STAGE_TOKEN, CallRecorder, RecordedCall, recording
from tests.infra.iam_policy import ContextValue, Policy, Request
from tests.infra.runner_guard import _resolve as resolve
from tests.infra.templates import template

ROOT = Path(__file__).resolve().parents[2]
POLICY_STAGES = ("dev", "prod")
SPOKE_TEMPLATE = "marea-spoke.yaml"


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


@lru_cache(maxsize=16)
def spoke_policy(stage: str, account: str) -> Policy:
    """The policy of infra/marea-spoke.yaml's role as CloudFormation resolves it for ``stage`` in ``account``."""
    names = {"AWS::Partition": PARTITION, "AWS::AccountId": account, "Stage": stage}
    role = template(SPOKE_TEMPLATE)["Resources"]["SpokeRole"]["Properties"]
    (inline,) = role["Policies"]
    return Policy.from_document(f"{SPOKE_TEMPLATE} SpokeRole ({stage})", resolve(inline["PolicyDocument"], names, {}))


def violations(calls: list[RecordedCall], stages: tuple[str, ...] = POLICY_STAGES) -> list[str]:
    """One line per call a stage's policy would refuse (or that cannot be translated): Marea's own calls are
    judged by its stage policy, those made as a member account's role by that role's (infra/marea-spoke.yaml)."""
    problems: list[str] = []
    own = {stage: Policy.load(policy_path(stage)) for stage in stages}
    for call in calls:
        if call.error:
            problems.append(f"{call.operation}: {call.error}")
            continue
        policies = own
        if call.role is not None:
            if call.role.rsplit("/", 1)[-1] != f"marea-{STAGE_TOKEN}-spoke":
                problems.append(f"{call.operation}: made as {call.role}, not a role infra/marea-spoke.yaml creates")
                continue
            policies = {stage: spoke_policy(stage, call.role.split(":")[4]) for stage in stages}
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
