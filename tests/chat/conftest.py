"""Fixtures for the chat tests: a real redis-server and two real chat instances sharing it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chat.harness import ChatInstance, RedisServer, start_all


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chat")


@pytest.fixture(scope="module")
def redis_server(module_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(module_dir / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer, module_dir: Path) -> Iterator[tuple[ChatInstance, ChatInstance]]:
    """Instances A and B behind no load balancer at all: clients pick one by port, as after a sticky ALB."""
    env = {"CHAT_HISTORY_SIZE": "5", "CHAT_DRAIN_TIMEOUT_S": "2", "CHAT_LOG_LEVEL": "debug"}
    instances = (
        ChatInstance(redis_server.url, module_dir / "a", env=env),
        ChatInstance(redis_server.url, module_dir / "b", env=env),
    )
    try:
        start_all(*instances)
        yield instances
    finally:
        for instance in instances:
            instance.stop()
