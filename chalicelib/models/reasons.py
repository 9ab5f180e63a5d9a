"""Reason codes: why a policy, the normaliser or the evaluator did what it did (pure values)."""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a policy or the normaliser did what it did. Stable strings: clients filter on them."""

    # policy votes
    ABOVE_TARGET = "ABOVE_TARGET"
    BELOW_TARGET = "BELOW_TARGET"
    WITHIN_TOLERANCE = "WITHIN_TOLERANCE"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    STALE_DATA = "STALE_DATA"
    ALARM_BREACHING = "ALARM_BREACHING"
    ALARM_OK = "ALARM_OK"
    NO_MATCHING_STEP = "NO_MATCHING_STEP"
    SCHEDULE_INACTIVE = "SCHEDULE_INACTIVE"
    SCHEDULE_ACTIVE = "SCHEDULE_ACTIVE"
    SCHEDULE_EXCLUDED_DATE = "SCHEDULE_EXCLUDED_DATE"
    NO_POLICIES = "NO_POLICIES"
    # target tracking: units ordered earlier and still starting (or serving since the datapoint) already cover what
    # the metric asks for
    SCALE_OUT_IN_PROGRESS = "SCALE_OUT_IN_PROGRESS"
    # target tracking with disable_scale_in: no vote on scale-in, so it never vetoes another policy's
    SCALE_IN_DISABLED = "SCALE_IN_DISABLED"
    FORECAST_RISE = "FORECAST_RISE"  # predictive: the same time of previous days rose within the lead time
    # combination and normalisation
    SCALE_IN_VETOED = "SCALE_IN_VETOED"
    HOLD_ON_MISSING_DATA = "HOLD_ON_MISSING_DATA"
    PAUSED = "PAUSED"
    STABILIZATION = "STABILIZATION"
    # the resource suspends scale-in: an ECS deployment in progress, or EC2 instances still warming up
    SCALE_IN_SUSPENDED = "SCALE_IN_SUSPENDED"
    COOLDOWN = "COOLDOWN"
    CLAMPED_TO_MIN = "CLAMPED_TO_MIN"
    CLAMPED_TO_MAX = "CLAMPED_TO_MAX"
    SCHEDULED_FLOOR = "SCHEDULED_FLOOR"
    # predictive: raised to serve a burst that recurred at this minute of each recent period (engine/recurring.py)
    PREDICTED_BURST_FLOOR = "PREDICTED_BURST_FLOOR"
    SCHEDULED_CEILING = "SCHEDULED_CEILING"
    CLAMPED_TO_RESOURCE_MIN = "CLAMPED_TO_RESOURCE_MIN"
    CLAMPED_TO_RESOURCE_MAX = "CLAMPED_TO_RESOURCE_MAX"
    RESOURCE_BOUNDS_DIFFER = "RESOURCE_BOUNDS_DIFFER"
    # the stage's ceiling for the target's kind (MAREA_MAX_CAPACITY_*) is below its max: decided within the ceiling
    CEILING_BELOW_MAX = "CEILING_BELOW_MAX"
    # outcome
    ADVISE_MODE = "ADVISE_MODE"
    CONCURRENT_EVALUATION = "CONCURRENT_EVALUATION"
    ACTUATION_FAILED = "ACTUATION_FAILED"
    ACTUATION_UNCONFIRMED = "ACTUATION_UNCONFIRMED"  # its outcome was never recorded and the capacity does not show it
    RESOURCE_UNREADABLE = "RESOURCE_UNREADABLE"
    # the target's account or Region could not be reached: its role not assumed, its session refused
    # (chalicelib/access_errors.py); only this target's decision fails
    ACCOUNT_UNREACHABLE = "ACCOUNT_UNREACHABLE"
    EVALUATION_FAILED = "EVALUATION_FAILED"  # an AWS call failed past its retries before anything was decided
    # the target names a resource outside the stage's allow-list (MAREA_ALLOWED_RESOURCES): not evaluated
    RESOURCE_NOT_ALLOWED = "RESOURCE_NOT_ALLOWED"
    # asynchronous actuation (kops runner)
    RUNNER_STARTED = "RUNNER_STARTED"
    RUNNER_BUSY = "RUNNER_BUSY"  # queued behind the runner in flight; applied when it finishes
    # the runner in flight already sets this capacity, or an earlier change may still be in flight (unsettled.py)
    ACTUATION_IN_PROGRESS = "ACTUATION_IN_PROGRESS"
    SUPERSEDED = "SUPERSEDED"  # a newer decision replaced this queued one
    RUNNER_TIMEOUT = "RUNNER_TIMEOUT"
    # a runner whose lease expired could not be stopped: it keeps the lease, nothing new starts until it is
    RUNNER_NOT_STOPPED = "RUNNER_NOT_STOPPED"
    RUNNER_FAILED = "RUNNER_FAILED"
