"""Where Marea runs the kops runner task (ECS RunTask on Fargate): the stage's, never a request's (pure)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KopsRunner(BaseModel):
    """Deployment facts of the kops-runner stack (infra/kops-runner.yaml outputs) and the network it runs in.

    They come from the stage's configuration (MAREA_KOPS_RUNNER_*, chalicelib/settings.py): whoever may
    register a target must not choose the network, security groups or public IP of a task that holds
    the kops state store's credentials.
    """

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    ecs_cluster: str = Field(min_length=1, max_length=255)
    task_definition: str = Field(min_length=1, max_length=1024, description="family[:revision] or ARN")
    container_name: str = Field(default="kops-runner", min_length=1, max_length=255)
    # ECS awsvpcConfiguration: at most 16 subnets and 5 security groups.
    subnets: tuple[str, ...] = Field(min_length=1, max_length=16)
    security_groups: tuple[str, ...] = Field(min_length=1, max_length=5)
    assign_public_ip: bool = False
