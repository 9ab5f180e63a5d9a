"""A decision: what the engine concluded and what became of it (pure values, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from chalicelib.models.reasons import ReasonCode
from chalicelib.models.targets import Mode


class Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


def to_milliseconds(at: datetime) -> datetime:
    """UTC at the decision log's precision (what every decision time is validated to)."""
    utc = at.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _iso_milliseconds(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


# A decision's times: UTC at the log's precision (milliseconds, as its id), always written with
# three decimals, so that ``trigger.at``, ``created_at`` and ``updated_at`` read alike and compare as text.
Instant = Annotated[
    AwareDatetime,
    AfterValidator(to_milliseconds),
    PlainSerializer(_iso_milliseconds, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-25T20:42:00.000Z"]}),
]


class Action(StrEnum):
    NONE = "none"
    OUT = "out"
    IN = "in"


class Vote(StrEnum):
    """A policy's opinion. ABSTAIN = no opinion; HOLD blocks scale-in (e.g. missing data)."""

    OUT = "out"
    IN = "in"
    HOLD = "hold"
    ABSTAIN = "abstain"


class Outcome(StrEnum):
    RECOMMENDED = "recommended"  # advise mode: recorded, never applied
    APPLIED = "applied"
    SKIPPED = "skipped"
    FAILED = "failed"
    PENDING = "pending"  # claimed, actuation under way


class TriggerType(StrEnum):
    ALARM = "alarm"
    SCHEDULE = "schedule"
    MANUAL = "manual"


class Trigger(Frozen):
    type: TriggerType
    event_id: str | None = None
    alarm_name: str | None = None
    alarm_state: str | None = None
    at: Instant = Field(description="When the trigger happened (the event's time, the schedule's time), UTC, ms.")


class NamedPolicy(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...


class PolicyResult(Frozen):
    policy: str
    policy_type: str
    vote: Vote
    proposed: int | None = None  # capacity this policy asks for; None = no opinion
    reasons: list[ReasonCode] = Field(default_factory=list)
    detail: str = ""
    # Scheduled policies bound capacity instead of proposing it.
    floor: int | None = None
    ceiling: int | None = None
    observed: float | None = None  # metric value the policy used

    @classmethod
    def vote_of(
        cls,
        policy: NamedPolicy,
        vote: Vote,
        reason: ReasonCode,
        detail: str,
        *,
        proposed: int | None = None,
        observed: float | None = None,
    ) -> PolicyResult:
        """One policy's vote for one reason. A HOLD with ``proposed`` None has no opinion on the size
        but still vetoes every other policy's scale-in."""
        return cls(
            policy=policy.name,
            policy_type=policy.type,
            vote=vote,
            proposed=proposed,
            reasons=[reason],
            detail=detail,
            observed=observed,
        )


class EngineResult(Frozen):
    """What ``decide`` returns: pure, before any actuation."""

    current: int
    proposed: int
    final: int
    action: Action
    policy: str | None  # the policy that won, None when nothing asked for a change
    reasons: list[ReasonCode]
    explanation: str
    policy_results: list[PolicyResult]
    effective_min: int
    effective_max: int
    # The units serving the decision saw (engine/serving.py remembers them); None: not known, current stands in.
    serving: int | None = None


class Decision(Frozen):
    """A recorded evaluation (the decision log's domain record)."""

    id: str
    target_id: str
    target_kind: str
    trigger: Trigger
    mode: Mode
    current: int
    proposed: int
    final: int
    action: Action
    policy: str | None
    outcome: Outcome
    reasons: list[ReasonCode]
    explanation: str
    policy_results: list[PolicyResult]
    inputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    created_at: Instant = Field(
        description="When the evaluation read its inputs: the instant it decided for, and its id's time (UTC, ms)."
    )
    updated_at: Instant | None = Field(default=None, description="When the outcome was recorded (UTC, ms).")
