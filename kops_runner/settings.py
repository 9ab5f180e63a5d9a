"""What the runner is pinned to (its task definition's registered environment) and the one run it makes.

`PinnedSettings` comes from `ecs:DescribeTaskDefinition` of the runner's own task, never from its
process environment: a RunTask caller can override environment variables but cannot register a task
definition. `RunRequest` is a decision's `runner_request` checked against those settings. Nothing
here reads the environment.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

# The one definition of these names, shared with Marea's registration (the image copies the module).
from chalicelib import kops_names
from kops_runner.errors import BadRequest

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"
# A DynamoDB table name (AWS: 3-255 of these characters).
TABLE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"

DEFAULT_MAX_NODES = 1000
# infra/kops-runner.yaml grants PutObject on <cluster>/instancegroup/<ig> for KopsInstanceGroups' first four only
# (Select [0..3]): a fifth group would pass every check here and then fail `kops edit ig` with AccessDenied.
MAX_INSTANCE_GROUPS = 4
# Marea's longest runner lease (chalicelib KopsTarget.runner_timeout_s ≤ 3600; tests/kops_runner/test_shared_names.py
# holds them equal). Marea's deadline is the lease less a margin, from RunTask: later than this after the task was
# created, a deadline is not one Marea wrote.
MAX_LEASE_S = 3600
# `kops update cluster` on a large cluster takes minutes; a hung call must not hold the lease forever.
DEFAULT_KOPS_TIMEOUT_S = 600.0

ClusterName = Annotated[
    str, Field(max_length=kops_names.CLUSTER_NAME_MAX_LENGTH, pattern=kops_names.CLUSTER_NAME_PATTERN)
]
InstanceGroupName = Annotated[
    str, Field(max_length=kops_names.INSTANCE_GROUP_MAX_LENGTH, pattern=kops_names.INSTANCE_GROUP_PATTERN)
]
StateStore = Annotated[str, Field(max_length=kops_names.STATE_STORE_MAX_LENGTH, pattern=kops_names.STATE_STORE_PATTERN)]
DecisionId = Annotated[str, Field(pattern=ULID_PATTERN)]


def _apply_flag(value: object) -> bool:
    """Only the exact string "true" applies; anything else (or nothing) means dry run, like kops without --yes."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip() == "true"


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(","))
    return value


def _at_most_four_groups(value: object) -> object:
    groups = _comma_list(value)
    if isinstance(groups, tuple) and len(groups) > MAX_INSTANCE_GROUPS:
        raise ValueError(
            f"at most {MAX_INSTANCE_GROUPS} instance groups: the kops-runner stack grants the state-store write "
            f"(KopsInstanceGroups) for {MAX_INSTANCE_GROUPS} only, {len(groups)} are listed"
        )
    return groups


ApplyFlag = Annotated[bool, BeforeValidator(_apply_flag)]


class PinnedSettings(BaseModel):
    """The runner's configuration: aliases are the variable names in its task definition's `environment`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    cluster: ClusterName = Field(alias="KOPS_CLUSTER_NAME")
    state_store: StateStore = Field(alias="KOPS_STATE_STORE")
    decisions_table: str = Field(alias="MAREA_DECISIONS_TABLE", pattern=TABLE_NAME_PATTERN)
    # The node instance groups this runner may resize: required, so a runner never sizes a group by default.
    instance_groups: Annotated[tuple[InstanceGroupName, ...], BeforeValidator(_at_most_four_groups)] = Field(
        alias="MAREA_INSTANCE_GROUPS", min_length=1
    )
    apply: ApplyFlag = Field(default=False, alias="MAREA_APPLY")
    # kops' cache and kubeconfig: a writable directory (the stack's root filesystem is read-only, /tmp a volume).
    home: str | None = Field(default=None, alias="HOME", pattern=r"^/[A-Za-z0-9._/-]*$")
    max_nodes: int = Field(default=DEFAULT_MAX_NODES, alias="MAREA_MAX_NODES", ge=0)
    kops_timeout_s: float = Field(default=DEFAULT_KOPS_TIMEOUT_S, alias="MAREA_KOPS_TIMEOUT_S", gt=0)
    # The ASG is read right after `kops update cluster --yes` returns; a short retry absorbs AWS read lag.
    verify_attempts: int = Field(default=3, alias="MAREA_VERIFY_ATTEMPTS", ge=1, le=20)
    verify_interval_s: float = Field(default=5.0, alias="MAREA_VERIFY_INTERVAL_S", ge=0)

    @classmethod
    def registered(cls, environment: list[dict[str, Any]]) -> PinnedSettings:
        """From a container definition's `environment` ([{"name": ..., "value": ...}]); BadRequest if invalid."""
        values = {pair.get("name"): pair.get("value") for pair in environment}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise BadRequest(f"the runner's task definition is not a valid configuration: {problems(error)}") from error


class DecisionRequest(BaseModel):
    """A decision's `runner_request`, as Marea wrote it (chalicelib/actuators/kops.py `runner_request`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    target_kind: Literal["kops"]
    cluster: ClusterName
    state_store: StateStore
    instance_group: InstanceGroupName
    min_size: int = Field(ge=0)
    max_size: int = Field(ge=0)
    # Marea's lease on the instance group ends soon after this instant: the runner never works past it.
    deadline: AwareDatetime


class RunRequest(BaseModel):
    """One resize: a decision's request, checked against what the runner is pinned to."""

    model_config = ConfigDict(frozen=True)

    decision_id: DecisionId
    decisions_table: str
    cluster: str
    state_store: str
    instance_group: str
    min_size: int
    max_size: int
    deadline: datetime
    apply: bool
    kops_timeout_s: float
    verify_attempts: int
    verify_interval_s: float
    kops_home: str | None = None

    @classmethod
    def checked(
        cls, decision_id: str, request: DecisionRequest, pinned: PinnedSettings, task_created_at: datetime
    ) -> RunRequest:
        """BadRequest unless the request names this runner's cluster, state store and one of its groups, in range,
        with a deadline no later than the longest lease after the task was created."""
        refusals = []
        latest = task_created_at + timedelta(seconds=MAX_LEASE_S)
        if request.deadline > latest:
            refusals.append(
                f"deadline {request.deadline.isoformat()} is more than {MAX_LEASE_S} s after its task was created "
                f"({task_created_at.isoformat()})"
            )
        if request.cluster != pinned.cluster:
            refusals.append(f"cluster {request.cluster} is not this runner's ({pinned.cluster})")
        if request.state_store != pinned.state_store:
            refusals.append(f"state store {request.state_store} is not this runner's ({pinned.state_store})")
        if request.instance_group not in pinned.instance_groups:
            allowed = ", ".join(pinned.instance_groups)
            refusals.append(f"instance group {request.instance_group} is not one this runner may resize ({allowed})")
        if request.min_size > request.max_size:
            refusals.append(f"min_size {request.min_size} is above max_size {request.max_size}")
        if request.max_size > pinned.max_nodes:
            refusals.append(f"max_size {request.max_size} is above the safety cap MAREA_MAX_NODES {pinned.max_nodes}")
        if refusals:
            raise BadRequest(f"decision {decision_id} asks what this runner may not do: {'; '.join(refusals)}")
        return cls(
            decision_id=decision_id,
            decisions_table=pinned.decisions_table,
            cluster=request.cluster,
            state_store=request.state_store,
            instance_group=request.instance_group,
            min_size=request.min_size,
            max_size=request.max_size,
            deadline=request.deadline,
            apply=pinned.apply,
            kops_timeout_s=pinned.kops_timeout_s,
            verify_attempts=pinned.verify_attempts,
            verify_interval_s=pinned.verify_interval_s,
            kops_home=pinned.home,
        )

    @property
    def asg_name(self) -> str:
        """kops names a node instance group's Auto Scaling group `<ig>.<cluster>`."""
        return f"{self.instance_group}.{self.cluster}"


def problems(error: ValidationError) -> str:
    """A validation error's problems, by field, without the values (which may come from a caller)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'request'}: {problem['msg'].removeprefix('Value error, ')}"
        for problem in error.errors(include_url=False, include_input=False)
    )
