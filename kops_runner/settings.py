"""The runner's request, read from the environment (ECS container overrides) by pydantic-settings.

Two models: `RunRequest` is the strict request the runner acts on; `ReportTo` reads, leniently,
just enough (decision id, table, names, apply flag) to report a request that failed validation.
Nothing here reads the environment at import time.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AwareDatetime, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The one definition of these names, shared with Marea's registration (the image copies the module).
from chalicelib import kops_names

ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"

DEFAULT_MAX_NODES = 1000
# `kops update cluster` on a large cluster takes minutes; a hung call must not hold the lease forever.
DEFAULT_KOPS_TIMEOUT_S = 600.0


def _apply_flag(value: object) -> bool:
    """Only the exact string "true" applies; anything else (or nothing) means dry run, like kops without --yes."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip() == "true"


ApplyFlag = Annotated[bool, BeforeValidator(_apply_flag)]

_SETTINGS = SettingsConfigDict(extra="ignore", frozen=True, case_sensitive=True)


class RunRequest(BaseSettings):
    """One resize request. Field aliases are the environment variable names of the contract with Marea."""

    model_config = _SETTINGS

    cluster: str = Field(
        validation_alias="KOPS_CLUSTER_NAME",
        max_length=kops_names.CLUSTER_NAME_MAX_LENGTH,
        pattern=kops_names.CLUSTER_NAME_PATTERN,
    )
    state_store: str = Field(
        validation_alias="KOPS_STATE_STORE",
        max_length=kops_names.STATE_STORE_MAX_LENGTH,
        pattern=kops_names.STATE_STORE_PATTERN,
    )
    instance_group: str = Field(
        validation_alias="MAREA_IG_NAME",
        max_length=kops_names.INSTANCE_GROUP_MAX_LENGTH,
        pattern=kops_names.INSTANCE_GROUP_PATTERN,
    )
    min_size: int = Field(validation_alias="MAREA_MIN_SIZE", ge=0)
    max_size: int = Field(validation_alias="MAREA_MAX_SIZE", ge=0)
    decision_id: str = Field(validation_alias="MAREA_DECISION_ID", pattern=ULID_PATTERN)
    decisions_table: str | None = Field(default=None, validation_alias="MAREA_DECISIONS_TABLE", min_length=3)
    apply: ApplyFlag = Field(default=False, validation_alias="MAREA_APPLY")
    max_nodes: int = Field(default=DEFAULT_MAX_NODES, validation_alias="MAREA_MAX_NODES", ge=0)
    kops_binary: str = Field(default="kops", validation_alias="KOPS_BINARY", min_length=1)
    kops_timeout_s: float = Field(default=DEFAULT_KOPS_TIMEOUT_S, validation_alias="MAREA_KOPS_TIMEOUT_S", gt=0)
    # The ASG is read right after `kops update cluster --yes` returns; a short retry absorbs AWS read lag.
    verify_attempts: int = Field(default=3, validation_alias="MAREA_VERIFY_ATTEMPTS", ge=1, le=20)
    verify_interval_s: float = Field(default=5.0, validation_alias="MAREA_VERIFY_INTERVAL_S", ge=0)
    # Marea's lease on the instance group ends soon after this instant: the runner never works past it.
    deadline: AwareDatetime | None = Field(default=None, validation_alias="MAREA_DEADLINE")

    @model_validator(mode="after")
    def _sizes_in_range(self) -> Self:
        if self.min_size > self.max_size:
            raise ValueError(f"MAREA_MIN_SIZE {self.min_size} is above MAREA_MAX_SIZE {self.max_size}")
        if self.max_size > self.max_nodes:
            raise ValueError(f"MAREA_MAX_SIZE {self.max_size} is above the safety cap MAREA_MAX_NODES {self.max_nodes}")
        return self

    @property
    def asg_name(self) -> str:
        """kops names a node instance group's Auto Scaling group `<ig>.<cluster>`."""
        return f"{self.instance_group}.{self.cluster}"


class ReportTo(BaseSettings):
    """Where and under which names to report, read without validation so a bad request is still reported."""

    model_config = _SETTINGS

    decision_id: str | None = Field(default=None, validation_alias="MAREA_DECISION_ID")
    decisions_table: str | None = Field(default=None, validation_alias="MAREA_DECISIONS_TABLE")
    cluster: str | None = Field(default=None, validation_alias="KOPS_CLUSTER_NAME")
    instance_group: str | None = Field(default=None, validation_alias="MAREA_IG_NAME")
    apply: ApplyFlag = Field(default=False, validation_alias="MAREA_APPLY")
