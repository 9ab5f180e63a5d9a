"""`marea deploy` / `marea destroy` (marea_deploy.cli) on the embedded AWS: refusals that change nothing, the kops
runner wired into the Lambdas from its stack's outputs, and a destroy that keeps the decision log.

Runs the command in this process (its `chalice deploy` and `chalice delete` are real subprocesses) with the
environment pointing at a moto server on 127.0.0.1 behind the rehearsal's shim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.settings import Settings
from marea_deploy.cli import main
from marea_deploy.project import project_copy
from marea_local import deployed_resources
from marea_local.deploy_rehearsal import EndpointSession
from marea_local.embedded_aws import EmbeddedAws, start_embedded_aws
from marea_local.rest_api_import_shim import import_shim

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

RUNNER = [
    "--network",
    "--kops-runner",
    "--parameter",
    "kops-runner.RunnerImage=123456789012.dkr.ecr.us-east-1.amazonaws.com/marea-kops-runner@sha256:" + "a" * 64,
    "--parameter",
    "kops-runner.KopsClusterName=demo.k8s.local",
]


@pytest.fixture
def aws() -> Iterator[EmbeddedAws]:
    embedded = start_embedded_aws(wrap=import_shim)
    embedded.reset()  # moto's state is this process's: another test's stacks would still be there
    yield embedded
    embedded.stop()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return project_copy(tmp_path)


@pytest.fixture
def on_embedded_aws(aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> EmbeddedAws:
    # No AWS setting of the developer's own: a per-service endpoint or a config file's would send calls elsewhere.
    for name in [n for n in os.environ if n.startswith(("AWS_", "MAREA_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)
    return aws


def _client(aws: EmbeddedAws, service: str) -> Any:
    return EndpointSession(aws).client(service)


def _stacks(aws: EmbeddedAws) -> list[str]:
    summaries = _client(aws, "cloudformation").list_stacks()["StackSummaries"]
    return sorted(s["StackName"] for s in summaries if s["StackStatus"] != "DELETE_COMPLETE")


EMPTY_TEMPLATE = json.dumps({"Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})


def _parameters(aws: EmbeddedAws, stack: str) -> dict[str, str]:
    described = _client(aws, "cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}


def _tick_rate(aws: EmbeddedAws) -> str:
    rules = _client(aws, "events").list_rules()["Rules"]
    return next(str(r["ScheduleExpression"]) for r in rules if "ScheduleExpression" in r)


def _set_stack_status(stack: str, status: str) -> None:
    """Test double for a failed creation, which moto cannot produce: its in-process stack, given the status."""
    from moto.cloudformation.models import cloudformation_backends

    for stack_model in cloudformation_backends["123456789012"]["us-east-1"].stacks.values():
        if stack_model.name == stack:
            stack_model.status = status


def _deploy(project: Path, *arguments: str) -> int:
    return main(["deploy", "--stage", "dev", "--project-dir", str(project), "--without-dependencies", *arguments])


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--chat", "--network"], "chat needs ImageUri: --parameter chat.ImageUri=..."),
        (["--webapp"], "webapp need a VPC: add --network, or give --vpc-id"),
        (["--parameter", "chat.ImageUri=x"], "parameters for chat given, but not --chat"),
        (["--parameter", "data.NoSuchParameter=x"], "marea-data.yaml has no parameter NoSuchParameter"),
        (["--parameter", "ImageUri=x"], "write STACK.Key=Value"),
        (["--kops-runner", "--network"], "kops-runner needs KopsClusterName, RunnerImage"),
        (["--vpc-id", "vpc-1"], "--vpc-id needs --public-subnets and --private-subnets too"),
        (["--public-subnets", "subnet-1"], "--public-subnets and --private-subnets go with --vpc-id"),
    ],
)
def test_bad_input_is_refused_before_anything_is_created(
    on_embedded_aws: EmbeddedAws,
    project: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    named: str,
) -> None:
    config_before = (project / ".chalice" / "config.json").read_text(encoding="utf-8")

    assert _deploy(project, *arguments) == 2

    assert named in capsys.readouterr().err
    assert _stacks(on_embedded_aws) == []
    assert (project / ".chalice" / "config.json").read_text(encoding="utf-8") == config_before


def test_an_unknown_stage_is_refused(
    on_embedded_aws: EmbeddedAws, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "--stage", "qa", "--project-dir", str(project), "--without-dependencies"]) == 2

    assert "stage 'qa' is not in" in capsys.readouterr().err
    assert _stacks(on_embedded_aws) == []


def test_lambdas_without_their_dependencies_are_never_deployed_to_a_real_aws(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An endpoint that is not the embedded AWS; the refusal comes before any request is sent.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://0.0.0.0:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    assert _deploy(project) == 2

    assert "only on the embedded AWS" in capsys.readouterr().err


def test_without_dependencies_every_service_must_be_the_embedded_aws(
    on_embedded_aws: EmbeddedAws, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # AWS_ENDPOINT_URL is the embedded AWS, but one service is sent elsewhere by its own variable.
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", "http://0.0.0.0:9")

    assert _deploy(project) == 2

    assert "not so for lambda" in capsys.readouterr().err
    assert _stacks(on_embedded_aws) == []


def test_a_parameter_given_once_is_kept_by_the_next_deploy(
    on_embedded_aws: EmbeddedAws, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy(project, "--parameter", "data.NotificationEmail=ops@example.com") == 0
    capsys.readouterr()

    assert _deploy(project) == 0  # not given again: kept (UsePreviousValue), not reset to the template's ""

    assert "stack marea-dev-data: unchanged" in capsys.readouterr().out
    assert _parameters(on_embedded_aws, "marea-dev-data")["NotificationEmail"] == "ops@example.com"
    assert _deploy(project, "--parameter", "data.NotificationEmail=") == 0
    assert "stack marea-dev-data: updated" in capsys.readouterr().out
    assert _parameters(on_embedded_aws, "marea-dev-data")["NotificationEmail"] == ""


def test_a_new_tick_rate_redeploys_the_lambdas_and_leaving_it_out_restores_the_default(
    on_embedded_aws: EmbeddedAws, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy(project) == 0
    capsys.readouterr()

    monkeypatch.setenv("MAREA_SCHEDULE_EXPRESSION", "rate(5 minutes)")
    assert _deploy(project) == 0
    assert "tick rate(5 minutes)): deployed" in capsys.readouterr().out
    assert _tick_rate(on_embedded_aws) == "rate(5 minutes)"

    monkeypatch.delenv("MAREA_SCHEDULE_EXPRESSION")
    assert _deploy(project) == 0
    assert "tick rate(1 minute)): deployed" in capsys.readouterr().out
    assert _tick_rate(on_embedded_aws) == "rate(1 minute)"


def test_a_failed_stack_is_refused_before_any_stack_is_touched(
    on_embedded_aws: EmbeddedAws, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudformation = _client(on_embedded_aws, "cloudformation")
    cloudformation.create_stack(StackName="marea-dev-kops-runner", TemplateBody=EMPTY_TEMPLATE)
    _set_stack_status("marea-dev-kops-runner", "ROLLBACK_COMPLETE")  # a creation that failed: it has no outputs

    assert _deploy(project) == 2  # the runner's outputs would be read for the Lambdas' environment

    err = capsys.readouterr().err
    assert "marea-dev-kops-runner is ROLLBACK_COMPLETE" in err
    assert "aws cloudformation delete-stack --stack-name marea-dev-kops-runner" in err
    assert _stacks(on_embedded_aws) == ["marea-dev-kops-runner"]  # the data stack was not created


def test_the_kops_runner_stack_is_wired_into_every_function(
    on_embedded_aws: EmbeddedAws, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy(project, *RUNNER) == 0
    capsys.readouterr()
    # Again: the runner's list parameter (RunnerSubnetIds) reads back unchanged, so nothing is updated.
    assert _deploy(project, *RUNNER) == 0
    second = capsys.readouterr().out
    for stack in ("network", "data", "kops-runner"):
        assert f"stack marea-dev-{stack}: unchanged" in second
    assert "Nothing changed" in second

    cloudformation = _client(on_embedded_aws, "cloudformation")
    runner = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="marea-dev-kops-runner")["Stacks"][0]["Outputs"]
    }
    network = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="marea-dev-network")["Stacks"][0]["Outputs"]
    }
    for function in deployed_resources.read(EndpointSession(on_embedded_aws), "marea-dev").functions:
        environment = function.environment
        assert environment["MAREA_KOPS_RUNNER_CLUSTER"] == runner["ClusterName"]
        assert environment["MAREA_KOPS_RUNNER_TASK_DEFINITION"] == runner["TaskDefinitionArn"]
        assert environment["MAREA_KOPS_RUNNER_CONTAINER"] == runner["ContainerName"]
        assert environment["MAREA_KOPS_RUNNER_SECURITY_GROUPS"] == runner["SecurityGroupId"]
        assert environment["MAREA_KOPS_RUNNER_SUBNETS"] == network["PrivateSubnetIds"]
        runs_on = Settings.from_environment(environment).kops_runner()
        assert runs_on is not None
        assert runs_on.subnets == tuple(network["PrivateSubnetIds"].split(","))


def _own_vpc(aws: EmbeddedAws) -> list[str]:
    """A VPC of the user's own, with --vpc-id. (moto 5.2.5 cannot delete the network stack: it deletes the VPC
    before the internet gateway's attachment and fails with DependencyViolation, which AWS orders correctly.)"""
    ec2 = _client(aws, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24")["Subnet"]["SubnetId"] for i in range(2)]
    return ["--vpc-id", vpc, "--public-subnets", subnets[0], "--private-subnets", subnets[1]]


def test_destroy_removes_what_deploy_made_but_keeps_the_decision_log(
    on_embedded_aws: EmbeddedAws, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = [a for a in RUNNER if a != "--network"]
    assert _deploy(project, *runner, *_own_vpc(on_embedded_aws)) == 0
    decisions = _client(on_embedded_aws, "dynamodb")
    decisions.put_item(TableName="marea-dev-decisions", Item={"id": {"S": "probe"}})

    assert main(["destroy", "--stage", "dev", "--project-dir", str(project)]) == 0

    assert _stacks(on_embedded_aws) == []
    assert deployed_resources.read(EndpointSession(on_embedded_aws), "marea-dev").functions == ()
    assert decisions.scan(TableName="marea-dev-decisions")["Count"] == 1
    config = json.loads((project / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert not [name for name in config["stages"]["dev"]["environment_variables"] if "KOPS_RUNNER" in name]

    # Deploying again would fail half-way on the kept table: refused first, naming it and the ways out.
    capsys.readouterr()
    assert _deploy(project) == 2
    assert "marea-dev-decisions exists without the stack marea-dev-data" in capsys.readouterr().err
    assert _stacks(on_embedded_aws) == []

    assert main(["destroy", "--stage", "dev", "--project-dir", str(project), "--delete-decisions"]) == 0
    assert "marea-dev-decisions" not in decisions.list_tables()["TableNames"]
    # The runner's state store was kept (Retain): the new runner stack is given it instead of failing on its name.
    assert _deploy(project, *runner, *_own_vpc(on_embedded_aws)) == 0
    bucket = "marea-dev-kops-state-123456789012-us-east-1"
    assert _parameters(on_embedded_aws, "marea-dev-kops-runner")["ExistingStateStoreBucket"] == bucket


def test_destroy_never_deletes_the_decision_table_of_a_data_stack_it_did_not_make(
    on_embedded_aws: EmbeddedAws, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = (Path(__file__).resolve().parents[2] / "infra" / "marea-data.yaml").read_text(encoding="utf-8")
    cloudformation = _client(on_embedded_aws, "cloudformation")
    cloudformation.create_stack(
        StackName="marea-dev-data",
        TemplateBody=template,
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    )  # made by hand: no marea:deployed-by tag

    assert main(["destroy", "--stage", "dev", "--project-dir", str(project), "--delete-decisions"]) == 0

    out = capsys.readouterr().out
    assert "stack marea-dev-data: left (not made by make deploy)" in out
    assert "table marea-dev-decisions: kept" in out
    assert "marea-dev-decisions" in _client(on_embedded_aws, "dynamodb").list_tables()["TableNames"]
