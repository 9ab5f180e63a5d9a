"""`make deploy STAGE=dev`, run twice by the rehearsal into a fresh embedded AWS, read back and checked for wiring.

The real `chalice deploy` creates the roles, functions, rules, the SQS event source and the REST API
(moto behind the one documented shim, marea_local/rest_api_import_shim.py); these tests read each back
from the embedded AWS and compare it with what the data stack and the project say it must be.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.constants import RUNNER_TASK_GROUP
from marea_deploy.gateway_responses import GATEWAY_ERROR_TEMPLATE
from marea_deploy.project import project_copy
from marea_local.deploy_rehearsal import ROOT, STAGE, EndpointSession, Rehearsal, rehearse
from marea_local.embedded_aws import EmbeddedAws, start_embedded_aws
from marea_local.rest_api_import_shim import import_shim

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")


@pytest.fixture(scope="module")
def aws() -> Iterator[EmbeddedAws]:
    embedded = start_embedded_aws(wrap=import_shim)
    embedded.reset()  # moto's state is this process's: another test's stacks would still be there
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
def rehearsal(aws: EmbeddedAws, tmp_path_factory: pytest.TempPathFactory) -> Rehearsal:
    return rehearse(aws, project_copy(tmp_path_factory.mktemp("project")))


def _outputs(aws: EmbeddedAws) -> dict[str, str]:
    cloudformation: Any = EndpointSession(aws).client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=f"marea-{STAGE}-data")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_every_function_gets_the_data_stacks_resources_in_its_environment(
    aws: EmbeddedAws, rehearsal: Rehearsal
) -> None:
    outputs = _outputs(aws)
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    functions = rehearsal.first.resources.functions

    assert len(functions) == 5
    for function in functions:
        assert function.environment == {
            **config["environment_variables"],
            "MAREA_TARGETS_TABLE": outputs["TargetsTableName"],
            "MAREA_DECISIONS_TABLE": outputs["DecisionsTableName"],
            "MAREA_IDEMPOTENCY_TABLE": outputs["IdempotencyTableName"],
            "MAREA_FANOUT_QUEUE_URL": outputs["EvaluationQueueUrl"],
        }, function.name
    # Nobody typed it: the URL is the embedded AWS's own queue, account id included.
    assert outputs["EvaluationQueueUrl"].endswith("/123456789012/marea-dev-evaluations")


def test_the_rules_route_alarms_the_tick_and_runner_stops_to_their_handlers(rehearsal: Rehearsal) -> None:
    resources = rehearsal.first.resources
    rules = {rule.name.removeprefix(f"marea-{STAGE}-").removesuffix("-event"): rule for rule in resources.rules}

    assert set(rules) == {"on_alarm_state_change", "on_schedule_tick", "on_runner_task_stopped"}
    assert rules["on_alarm_state_change"].pattern == {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
    }
    assert rules["on_schedule_tick"].schedule == "rate(1 minute)"
    assert rules["on_runner_task_stopped"].pattern == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {"group": [RUNNER_TASK_GROUP], "lastStatus": ["STOPPED"]},
    }
    for handler, rule in rules.items():
        assert rule.targets == (resources.function(handler).arn,), handler


def test_the_evaluation_queue_feeds_the_evaluation_handler(aws: EmbeddedAws, rehearsal: Rehearsal) -> None:
    resources = rehearsal.first.resources

    (mapping,) = resources.event_sources
    assert mapping.queue_arn == _outputs(aws)["EvaluationQueueArn"]
    assert mapping.function_arn == resources.function("on_evaluation_message").arn
    assert mapping.batch_size == 1  # one share of up to 100 targets per invocation (app.py)
    assert mapping.maximum_concurrency == 10


def test_every_function_runs_under_a_role_holding_only_the_stage_policy(rehearsal: Rehearsal) -> None:
    policy = json.loads((ROOT / ".chalice" / f"policy-{STAGE}.json").read_text(encoding="utf-8"))
    roles = {role.arn: role for role in rehearsal.first.resources.roles}

    for function in rehearsal.first.resources.functions:
        role = roles[function.role]
        assert list(role.policies.values()) == [policy], function.name
        assert role.attached == ()
        assert role.trusted == ("lambda.amazonaws.com",)


def test_the_api_answers_gateway_errors_in_the_api_error_shape(rehearsal: Rehearsal) -> None:
    (api,) = rehearsal.first.resources.apis

    assert api.gateway_responses == (
        ("DEFAULT_4XX", GATEWAY_ERROR_TEMPLATE),
        ("DEFAULT_5XX", GATEWAY_ERROR_TEMPLATE),
    )


def test_a_second_deploy_changes_nothing_and_says_so(rehearsal: Rehearsal) -> None:
    assert "stack marea-dev-data: created" in rehearsal.first.output
    assert "Stage dev deployed." in rehearsal.first.output

    # Every function's code, revision and last-modified, every rule, role, mapping and API deployment: the same.
    assert rehearsal.second.resources == rehearsal.first.resources
    assert "stack marea-dev-data: unchanged" in rehearsal.second.output
    assert "Lambdas (chalice deploy --stage dev, tick rate(1 minute)): unchanged" in rehearsal.second.output
    assert "Nothing changed" in rehearsal.second.output


def test_a_code_change_is_deployed_on_the_next_run(aws: EmbeddedAws, rehearsal: Rehearsal) -> None:
    from marea_local import deployed_resources
    from marea_local.deploy_rehearsal import make_deploy

    changed = rehearsal.project / "chalicelib" / "deploy_probe.py"
    changed.write_text('"""A module added after the first deploy."""\n', encoding="utf-8")
    try:
        output = make_deploy(aws, rehearsal.project)
    finally:
        changed.unlink()
    after = deployed_resources.read(EndpointSession(aws), f"marea-{STAGE}")

    assert "Lambdas (chalice deploy --stage dev, tick rate(1 minute)): deployed" in output
    assert "stack marea-dev-data: unchanged" in output
    for before, now in zip(rehearsal.second.resources.functions, after.functions, strict=True):
        assert now.code_sha256 != before.code_sha256, now.name


def test_make_deploy_rehearsal_prints_what_it_created_and_exits_0() -> None:
    completed = subprocess.run(  # noqa: S603 - fixed arguments; make from PATH, as a user runs it
        ["make", "--no-print-directory", "-C", str(ROOT), "deploy-rehearsal"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    for line in ("functions (5):", "rules (3):", "event source mappings (1):", "roles (5):", "= policy-dev.json"):
        assert line in completed.stdout
    assert "second run: nothing changed" in completed.stdout
