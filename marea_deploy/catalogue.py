"""Marea's stacks: which template each deploys from, in which order, and how one's outputs feed the next.

The table in README "Deploy to AWS" in code: every wire between stacks that the README asked people to
type (a VPC id, subnets, the decision table) is drawn here from the earlier stacks' outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"


@dataclass(frozen=True)
class StackKind:
    key: str  # what the command line calls it
    template: str  # in infra/
    capabilities: tuple[str, ...]
    optional: bool
    needs_network: bool  # takes VpcId and subnets

    def stack_name(self, stage: str) -> str:
        return f"marea-{stage}-{self.key}"

    @property
    def template_path(self) -> Path:
        return INFRA / self.template


# Deploy order; destroy goes backwards. The named IAM roles of chat and kops-runner need CAPABILITY_NAMED_IAM.
STACKS: tuple[StackKind, ...] = (
    StackKind("network", "network.yaml", ("CAPABILITY_IAM",), optional=True, needs_network=False),
    StackKind("data", "marea-data.yaml", (), optional=False, needs_network=False),
    StackKind("webapp", "webapp-asg.yaml", ("CAPABILITY_IAM",), optional=True, needs_network=True),
    StackKind("chat", "chat-fargate.yaml", ("CAPABILITY_NAMED_IAM",), optional=True, needs_network=True),
    StackKind("kops-runner", "kops-runner.yaml", ("CAPABILITY_NAMED_IAM",), optional=True, needs_network=True),
)
BY_KEY = {kind.key: kind for kind in STACKS}
OPTIONAL = tuple(kind.key for kind in STACKS if kind.optional)


@dataclass(frozen=True)
class Network:
    """The VPC the workloads and the runner go in: the network stack's outputs, or the user's own ids."""

    vpc_id: str
    public_subnets: str  # comma-separated, as the templates take them
    private_subnets: str

    @classmethod
    def from_outputs(cls, outputs: dict[str, str]) -> Network:
        return cls(outputs["VpcId"], outputs["PublicSubnetIds"], outputs["PrivateSubnetIds"])


def wired_parameters(
    kind: StackKind, stage: str, network: Network | None, outputs: dict[str, dict[str, str]]
) -> dict[str, str]:
    """The parameters a stack takes from the stage and from the stacks before it (the user's come on top)."""
    parameters = {"Stage": stage}
    if kind.needs_network and network is not None:
        parameters["VpcId"] = network.vpc_id
        if kind.key == "kops-runner":
            parameters["RunnerSubnetIds"] = network.private_subnets
        else:
            parameters["PublicSubnetIds"] = network.public_subnets
            parameters["PrivateSubnetIds"] = network.private_subnets
    if kind.key == "kops-runner" and "data" in outputs:
        parameters["DecisionsTableName"] = outputs["data"]["DecisionsTableName"]
    return parameters


def kept_state_store(stage: str, account: str, region: str) -> str:
    """The kops state-store bucket infra/kops-runner.yaml creates (and keeps when the stack is deleted)."""
    return f"marea-{stage}-kops-state-{account}-{region}"


# The Lambdas' environment, from the outputs (chalicelib/settings.py reads these).
DATA_ENVIRONMENT = {
    "MAREA_TARGETS_TABLE": "TargetsTableName",
    "MAREA_DECISIONS_TABLE": "DecisionsTableName",
    "MAREA_IDEMPOTENCY_TABLE": "IdempotencyTableName",
    "MAREA_FANOUT_QUEUE_URL": "EvaluationQueueUrl",
}
RUNNER_ENVIRONMENT = {
    "MAREA_KOPS_RUNNER_CLUSTER": "ClusterName",
    "MAREA_KOPS_RUNNER_TASK_DEFINITION": "TaskDefinitionArn",
    "MAREA_KOPS_RUNNER_CONTAINER": "ContainerName",
    "MAREA_KOPS_RUNNER_SECURITY_GROUPS": "SecurityGroupId",
}
RUNNER_SUBNETS = "MAREA_KOPS_RUNNER_SUBNETS"  # a parameter of the runner's stack, not an output


def lambda_environment(outputs: dict[str, dict[str, str]], runner_subnets: str | None) -> dict[str, str]:
    """MAREA_* variables for the stage: the data stack's resources, and the kops runner's when it is deployed."""
    environment = {name: outputs["data"][key] for name, key in DATA_ENVIRONMENT.items()}
    if "kops-runner" in outputs and runner_subnets:
        environment |= {name: outputs["kops-runner"][key] for name, key in RUNNER_ENVIRONMENT.items()}
        environment[RUNNER_SUBNETS] = runner_subnets
    return environment


def runner_variables() -> tuple[str, ...]:
    """Every variable lambda_environment may write for the runner (removed again when the runner goes)."""
    return (*RUNNER_ENVIRONMENT, RUNNER_SUBNETS)
