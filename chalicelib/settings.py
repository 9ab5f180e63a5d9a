"""Runtime settings: the only reader of the environment, and never at import time.

A plain pydantic model filled from the ``MAREA_*`` variables: pydantic-settings would do the same
for one prefix but adds about 60 ms (asyncio, argparse, dotenv) to every Lambda cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "MAREA_"


class Settings(BaseModel):
    # Lax mode turns the environment's strings into ints; unknown MAREA_* variables are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)

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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Read ``MAREA_<FIELD>`` (any case) for each field; a bad value fails naming the field."""
        values = {
            name.upper()[len(ENV_PREFIX) :].lower(): value
            for name, value in environ.items()
            if name.upper().startswith(ENV_PREFIX)
        }
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment(os.environ)
