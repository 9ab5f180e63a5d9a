"""Runtime settings: the only reader of the environment, and never at import time.

A plain pydantic model filled from the ``MAREA_*`` variables: pydantic-settings would do the same
for one prefix but adds about 60 ms (asyncio, argparse, dotenv) to every Lambda cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.models.runner import KopsRunner
from chalicelib.models.targets import MAX_CAPACITY_LIMIT
from chalicelib.resource_limits import DEFAULT_CEILINGS, AllowList, ResourceLimits

ENV_PREFIX = "MAREA_"
_RUNNER_FIELDS = (
    "kops_runner_cluster",
    "kops_runner_task_definition",
    "kops_runner_subnets",
    "kops_runner_security_groups",
)


class Settings(BaseModel):
    # Lax mode turns the environment's strings into ints; unknown MAREA_* variables are ignored.
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)

    targets_table: str = "marea-targets"
    decisions_table: str = "marea-decisions"
    idempotency_table: str = "marea-idempotency"
    # SQS queue the schedule tick fans out to when a tick has more targets than one Lambda should do.
    fanout_queue_url: str | None = None
    # Evaluate inline up to this many targets per tick; above it, fan out through SQS.
    inline_evaluation_limit: int = Field(default=25, ge=0, le=10_000)
    decision_ttl_days: int = Field(default=90, ge=1, le=3650)
    # How long a claimed actuation may stay pending before the next evaluation re-checks it.
    pending_timeout_s: int = Field(default=300, ge=30, le=3600)
    # What Marea may manage (chalicelib/resource_limits.py has the syntax); empty: everything.
    allowed_resources: str = ""
    # The largest max a target of each kind may have: registration above it is refused, evaluation stays below.
    max_capacity_asg: int = Field(default=DEFAULT_CEILINGS["asg"], ge=0, le=MAX_CAPACITY_LIMIT)
    max_capacity_ecs: int = Field(default=DEFAULT_CEILINGS["ecs"], ge=0, le=MAX_CAPACITY_LIMIT)
    max_capacity_kops: int = Field(default=DEFAULT_CEILINGS["kops"], ge=0, le=MAX_CAPACITY_LIMIT)
    # Where the kops runner runs: the kops-runner stack's outputs and the network chosen for it, comma-separated
    # lists. Unset: the stage runs no kops runner (a kops target's changes fail, saying so).
    kops_runner_cluster: str | None = None
    kops_runner_task_definition: str | None = None
    kops_runner_container: str = "kops-runner"
    kops_runner_subnets: str | None = None
    kops_runner_security_groups: str | None = None
    kops_runner_assign_public_ip: bool = False
    # The EventBridge bus applied and failed decisions and recommended changes are put on
    # (docs/decision-events.md); empty: none is put. The stage policy grants events:PutEvents on the default bus only.
    event_bus_name: str = Field(default="default", pattern=r"^$|^[A-Za-z0-9._\-/:]{1,1600}$")
    # The Region Marea runs in, as its clients take it (botocore reads AWS_DEFAULT_REGION; Lambda sets it and
    # AWS_REGION alike), not a MAREA_ variable.
    home_region: str | None = None

    @field_validator("allowed_resources")
    @classmethod
    def _parseable(cls, value: str) -> str:
        AllowList.parse(value)
        return value

    @model_validator(mode="after")
    def _runner_whole(self) -> Settings:
        given = [name for name in _RUNNER_FIELDS if getattr(self, name)]
        if given and len(given) < len(_RUNNER_FIELDS):
            missing = [f"{ENV_PREFIX}{name.upper()}" for name in _RUNNER_FIELDS if name not in given]
            raise ValueError(f"the kops runner is configured in part: set {', '.join(missing)} too")
        if given:
            self.kops_runner()  # each value within ECS's limits, or fail now naming it
        return self

    def limits(self) -> ResourceLimits:
        ceilings = {"asg": self.max_capacity_asg, "ecs": self.max_capacity_ecs, "kops": self.max_capacity_kops}
        return ResourceLimits(
            allowed=AllowList.parse(self.allowed_resources), ceilings=ceilings, home_region=self.home_region
        )

    def kops_runner(self) -> KopsRunner | None:
        """Where this stage runs the kops runner; None when it runs none."""
        if not self.kops_runner_cluster or not self.kops_runner_task_definition:
            return None
        return KopsRunner(
            ecs_cluster=self.kops_runner_cluster,
            task_definition=self.kops_runner_task_definition,
            container_name=self.kops_runner_container,
            subnets=_listed(self.kops_runner_subnets),
            security_groups=_listed(self.kops_runner_security_groups),
            assign_public_ip=self.kops_runner_assign_public_ip,
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Read ``MAREA_<FIELD>`` (any case) for each field; a bad value fails naming the field."""
        values = {
            name.upper()[len(ENV_PREFIX) :].lower(): value
            for name, value in environ.items()
            if name.upper().startswith(ENV_PREFIX)
        }
        values.pop("home_region", None)
        region = environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION")
        return cls.model_validate({**values, "home_region": region})


def _listed(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment(os.environ)
