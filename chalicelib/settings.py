"""Runtime settings: the only reader of the environment, and never at import time."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MAREA_", extra="ignore", frozen=True)

    targets_table: str = "marea-targets"
    decisions_table: str = "marea-decisions"
    idempotency_table: str = "marea-idempotency"
    # SQS queue the schedule tick fans out to when a tick has more targets than one Lambda should do.
    fanout_queue_url: str | None = None
    # Evaluate inline up to this many targets per tick; above it, fan out through SQS.
    inline_evaluation_limit: int = Field(default=25, ge=0, le=10_000)
    decision_ttl_days: int = Field(default=90, ge=1, le=3650)
    # Datapoints fetched per target-tracking policy: enough for the longest evaluation window.
    metric_lookback_minutes: int = Field(default=20, ge=1, le=1440)
    # How long a claimed actuation may stay pending before the next evaluation re-checks it.
    pending_timeout_s: int = Field(default=300, ge=30, le=3600)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
