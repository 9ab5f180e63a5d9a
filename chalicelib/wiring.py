"""Builds the service objects from settings, once per Lambda container, on first use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache

from chalicelib import aws
from chalicelib.actuators.registry import actuator_for
from chalicelib.decision_events import DecisionEvents, PublishingDecisionLog, PublishingTargetRegistry
from chalicelib.resource_limits import ResourceLimits
from chalicelib.service import Evaluator, utc_now
from chalicelib.settings import get_settings
from chalicelib.signal_collector import SignalCollector
from chalicelib.store.decisions import DecisionLog
from chalicelib.store.targets import TargetRegistry

# The wall clock evaluations read; the local demo replays past minutes and sets its simulated clock.
_clock: Callable[[], datetime] = utc_now


def use_clock(clock: Callable[[], datetime]) -> None:
    """Evaluate on ``clock`` instead of the wall clock (marea_local's simulated time)."""
    global _clock
    _clock = clock
    evaluator.cache_clear()


@lru_cache(maxsize=1)
def decision_events() -> DecisionEvents | None:
    """Where recorded decisions are announced; None when the stage puts no decision events."""
    bus = get_settings().event_bus_name
    return DecisionEvents(client=aws.events, bus=bus) if bus else None


@lru_cache(maxsize=1)
def registry() -> TargetRegistry:
    settings = get_settings()
    plain = TargetRegistry(aws.dynamodb(), settings.targets_table, settings.decisions_table)
    events = decision_events()
    return PublishingTargetRegistry(plain, events) if events else plain


@lru_cache(maxsize=1)
def decision_log() -> DecisionLog:
    plain = DecisionLog(aws.dynamodb(), get_settings().decisions_table)
    events = decision_events()
    return PublishingDecisionLog(plain, events) if events else plain


@lru_cache(maxsize=1)
def limits() -> ResourceLimits:
    """What the stage lets Marea manage: checked when a target is written and before any change is made."""
    return get_settings().limits()


@lru_cache(maxsize=1)
def evaluator() -> Evaluator:
    settings = get_settings()
    return Evaluator(
        registry=registry(),
        log=decision_log(),
        collector=SignalCollector(aws.cloudwatch),
        actuator_for=actuator_for,
        decision_ttl=timedelta(days=settings.decision_ttl_days),
        pending_timeout=timedelta(seconds=settings.pending_timeout_s),
        limits=limits(),
        clock=_clock,
        forget_session=aws.forget,
    )


def reset() -> None:
    """Forget every cached object and the clock set by use_clock (tests and the demo repoint the environment)."""
    global _clock
    _clock = utc_now
    from chalicelib.settings import get_settings as settings_factory

    for factory in (decision_events, registry, decision_log, limits, evaluator, settings_factory):
        factory.cache_clear()
    aws.reset_clients()
