"""Fixtures of the reliability suite: one serialized embedded AWS for the session (see embedded.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from marea_local.embedded_aws import EmbeddedAws
from tests.infra.runner_guard import runner_calls_checked
from tests.reliability.embedded import forget_wiring, reliability_aws


@pytest.fixture(scope="session")
def aws() -> Iterator[EmbeddedAws]:
    with reliability_aws() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_wiring() -> Iterator[None]:
    """Each test builds Marea's clients anew (and drops the hooks and clocks a scenario set on them)."""
    forget_wiring()
    yield
    forget_wiring()


@pytest.fixture(autouse=True)
def runner_role_guard() -> Iterator[None]:
    """Every AWS call a kops runner run here makes (its own and the kops double's) must be allowed by its IAM role."""
    with runner_calls_checked():
        yield
