"""Integration fixtures: boto3 talks HTTP to a moto server on 127.0.0.1 (the embedded AWS)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib import wiring
from marea_local.data_stack import DataStack, create_data_stack
from marea_local.embedded_aws import EmbeddedAws, start_embedded_aws
from tests.infra.policy_guard import calls_checked_against_policies
from tests.infra.runner_guard import runner_calls_checked


@pytest.fixture(autouse=True)
def iam_policy_guard() -> Iterator[None]:
    """Every AWS call Marea's clients make in a test must be allowed by .chalice/policy-{dev,prod}.json."""
    with calls_checked_against_policies():
        yield


@pytest.fixture(autouse=True)
def runner_role_guard() -> Iterator[None]:
    """Every AWS call a kops runner run here makes (its own and the kops double's) must be allowed by its IAM role."""
    with runner_calls_checked():
        yield


@pytest.fixture(scope="session")
def embedded_aws() -> Iterator[EmbeddedAws]:
    server = start_embedded_aws()
    saved = dict(os.environ)
    os.environ.update(server.environment())
    os.environ.update(
        {"POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_METRICS_NAMESPACE": "Marea", "POWERTOOLS_DEV": "0"}
    )
    yield server
    server.stop()
    os.environ.clear()
    os.environ.update(saved)


def _reset_caches() -> None:
    from chalicelib import triggers

    wiring.reset()
    triggers._dispatch_tick_once.cache_clear()


@pytest.fixture
def data_stack(embedded_aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[DataStack]:
    """A fresh embedded AWS with Marea's tables and queues, created from infra/marea-data.yaml."""
    embedded_aws.reset()
    stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage="test")
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    _reset_caches()
    yield stack
    _reset_caches()


@pytest.fixture
def clients(embedded_aws: EmbeddedAws) -> dict[str, Any]:
    return {name: boto3.client(name) for name in ("autoscaling", "ec2", "ecs", "cloudwatch", "dynamodb", "sqs")}


@pytest.fixture
def client(data_stack: DataStack) -> Iterator[Any]:
    """chalice.test.Client over the real app; stage 'test' adds only the top-level config env."""
    from pathlib import Path

    from chalice.test import Client

    from app import app

    with Client(app, stage_name="test", project_dir=str(Path(__file__).resolve().parents[2])) as test_client:
        yield test_client
