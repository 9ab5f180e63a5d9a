"""Builds the service objects from settings, once per Lambda container, on first use."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from chalicelib import aws
from chalicelib.actuators.registry import actuator_for
from chalicelib.service import Evaluator
from chalicelib.settings import get_settings
from chalicelib.signal_collector import SignalCollector
from chalicelib.store.decisions import DecisionLog
from chalicelib.store.targets import TargetRegistry


@lru_cache(maxsize=1)
def registry() -> TargetRegistry:
    settings = get_settings()
    return TargetRegistry(aws.dynamodb(), settings.targets_table, settings.decisions_table)


@lru_cache(maxsize=1)
def decision_log() -> DecisionLog:
    return DecisionLog(aws.dynamodb(), get_settings().decisions_table)


@lru_cache(maxsize=1)
def evaluator() -> Evaluator:
    settings = get_settings()
    return Evaluator(
        registry=registry(),
        log=decision_log(),
        collector=SignalCollector(aws.cloudwatch()),
        actuator_for=actuator_for,
        decision_ttl=timedelta(days=settings.decision_ttl_days),
        pending_timeout=timedelta(seconds=settings.pending_timeout_s),
    )


def reset() -> None:
    """Forget every cached object (tests and the demo repoint the environment)."""
    from chalicelib.settings import get_settings as settings_factory

    for factory in (registry, decision_log, evaluator, settings_factory):
        factory.cache_clear()
    aws.reset_clients()
