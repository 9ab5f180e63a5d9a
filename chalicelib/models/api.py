"""HTTP API request and response models (the API's contract; separate from domain and items)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from chalicelib.constants import TARGET_ID_PATTERN
from chalicelib.models.decisions import Decision, Outcome
from chalicelib.models.targets import TargetBase

MAX_PAGE = 500


class DecisionListParams(BaseModel):
    """Query string of GET /decisions. Unknown parameters are refused, not ignored."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    target: str | None = Field(default=None, pattern=TARGET_ID_PATTERN)
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    outcome: Outcome | None = None
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _ordered(self) -> DecisionListParams:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


def target_response(target: TargetBase, version: int) -> dict[str, Any]:
    return {**target.model_dump(mode="json"), "version": version}


def decision_response(decision: Decision) -> dict[str, Any]:
    return decision.model_dump(mode="json")
