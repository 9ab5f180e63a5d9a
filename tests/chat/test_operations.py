"""Operating the chat on Fargate: health checks, Redis restarts, SIGTERM at scale-in, and the metric Marea reads.

Each scenario gets its own redis-server and instances, since it stops or breaks them on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio
from redis import Redis

from tests.chat.client import ChatClient
from tests.chat.harness import ChatInstance, RedisServer, start_all

FAST_PRESENCE = {"CHAT_HEARTBEAT_S": "0.3", "CHAT_PRESENCE_TTL_S": "1.5"}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def instances(own_redis: RedisServer, tmp_path: Path) -> Iterator[list[ChatInstance]]:
    created: list[ChatInstance] = []
    yield created
    for instance in created:
        instance.stop()


def test_healthz_reports_redis_and_the_chat_recovers_from_a_redis_restart(
    own_redis: RedisServer, instances: list[ChatInstance], tmp_path: Path
) -> None:
    a = ChatInstance(own_redis.url, tmp_path / "a", env=FAST_PRESENCE)
    b = ChatInstance(own_redis.url, tmp_path / "b", env=FAST_PRESENCE)
    instances += [a, b]
    start_all(a, b)

    async def scenario() -> None:
        ana, bob = await ChatClient(a.url).connect(), await ChatClient(b.url).connect()
        try:
            await ana.join("general", "ana")
            await bob.join("general", "bob")
            await bob.wait_for_presence("general", ["ana", "bob"])
            status, body = a.healthz()
            assert (status, body["status"], body["redis"], body["clients"]) == (200, "ok", "ok", 1)

            own_redis.stop()
            status, body = a.healthz()
            assert (status, body["status"]) == (503, "unavailable")
            await ana.say("general", "while redis is down")
            await ana.wait_for_error("unavailable")
            # Refused as a whole: neither stored nor delivered, not even on the sender's own instance.
            assert "while redis is down" not in [m["text"] for c in (ana, bob) for m in c.events("message")]

            own_redis.start()  # same port, empty: like an ElastiCache node replaced without persistence
            received = await keep_saying_until_heard(ana, bob, "general", timeout_s=20)
            assert a.healthz()[0] == 200
            assert b.healthz()[0] == 200
            # Presence comes back by itself: the heartbeat re-asserts each connection and re-broadcasts.
            await bob.wait_for_presence("general", ["ana", "bob"], timeout_s=5)
            zoe = await ChatClient(b.url).connect()
            history = await zoe.join("general", "zoe")
            await zoe.close()
            assert received in [m["text"] for m in history["messages"]]
        finally:
            await ana.close()
            await bob.close()

    asyncio.run(scenario())


async def keep_saying_until_heard(speaker: ChatClient, listener: ChatClient, room: str, timeout_s: float) -> str:
    """The pub/sub listener reconnects with a back-off of its own: probe until a message crosses again."""
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        text = f"probe {attempt}"
        await speaker.say(room, text)
        try:
            await listener.wait_for("message", lambda m, text=text: m["text"] == text, timeout_s=0.5)
        except AssertionError:
            continue
        return text
    raise AssertionError(f"no message crossed instances within {timeout_s}s after the Redis restart")


def test_sigterm_drains_clients_to_other_instances_then_exits_cleanly(
    own_redis: RedisServer, instances: list[ChatInstance], tmp_path: Path
) -> None:
    drain_s = 3.0
    a = ChatInstance(own_redis.url, tmp_path / "a", env={**FAST_PRESENCE, "CHAT_DRAIN_TIMEOUT_S": str(drain_s)})
    b = ChatInstance(own_redis.url, tmp_path / "b", env=FAST_PRESENCE)
    instances += [a, b]
    start_all(a, b)

    async def scenario() -> None:
        polite, stubborn, watcher = (ChatClient(a.url), ChatClient(a.url), ChatClient(b.url))
        try:
            for client, nick in ((polite, "polite"), (stubborn, "stubborn"), (watcher, "watcher")):
                await client.connect()
                await client.join("help", nick)
            await watcher.wait_for_presence("help", ["polite", "stubborn", "watcher"])

            started = time.monotonic()
            a.terminate()

            for client in (polite, stubborn):
                draining = await client.wait_for("draining")
                assert 0 < draining["reconnect_in_ms"] <= drain_s * 1000
            status, body = a.healthz()
            assert (status, body["status"]) == (503, "draining")  # the target group takes it out
            with pytest.raises(socketio.exceptions.ConnectionError):
                await ChatClient(a.url).connect()  # newcomers are refused while draining

            # The polite client does what the page does: leave, and reconnect (the ALB picks a live task).
            await polite.close()
            polite = await ChatClient(b.url).connect()
            await polite.join("help", "polite")
            await watcher.wait_for_presence("help", ["polite", "stubborn", "watcher"])

            # The stubborn one is closed at the deadline, at transport level, so its client would reconnect.
            await stubborn.wait_for("disconnect", timeout_s=drain_s + 3)
            assert a.wait(timeout_s=10) == 0
            elapsed = time.monotonic() - started
            assert drain_s - 0.5 < elapsed < drain_s + 5
            await watcher.wait_for_presence("help", ["polite", "watcher"])
            live = Redis.from_url(own_redis.url, decode_responses=True)
            assert live.zrange("chat:instances", 0, -1) == [b_id]  # A withdrew itself
            live.close()
        finally:
            for client in (polite, stubborn, watcher):
                await client.close()

    b_id = b.healthz()[1]["instance"]
    asyncio.run(scenario())


def test_each_instance_prints_its_connected_clients_as_emf_on_stdout(
    own_redis: RedisServer, instances: list[ChatInstance], tmp_path: Path
) -> None:
    env = {"CHAT_METRICS_INTERVAL_S": "0.3", "CHAT_CLUSTER_NAME": "demo", "CHAT_SERVICE_NAME": "chat"}
    a = ChatInstance(own_redis.url, tmp_path / "a", env=env)
    instances.append(a)
    a.start()

    async def scenario() -> None:
        clients = [await ChatClient(a.url).connect() for _ in range(3)]
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if any(line["ConnectedClients"] == 3 for line in a.metric_lines()):
                    break
                await asyncio.sleep(0.1)
        finally:
            for client in clients:
                await client.close()

    asyncio.run(scenario())
    lines = a.metric_lines()
    assert lines, "no EMF line on stdout"
    assert 3 in [line["ConnectedClients"] for line in lines]
    document = lines[-1]
    assert document["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "Marea/Chat",
            "Dimensions": [["ClusterName", "ServiceName"]],
            # Every 0.3 s, below a minute: a high-resolution metric, or CloudWatch would keep only minutes.
            "Metrics": [{"Name": "ConnectedClients", "Unit": "Count", "StorageResolution": 1}],
        }
    ]
    assert (document["ClusterName"], document["ServiceName"]) == ("demo", "chat")
    assert abs(document["_aws"]["Timestamp"] / 1000 - time.time()) < 60


def test_a_redis_that_requires_auth_gets_the_password_from_settings(tmp_path: Path) -> None:
    """ElastiCache with an AUTH token: CHAT_REDIS_PASSWORD, kept out of the URL (and so out of every log)."""
    secured = RedisServer(tmp_path / "redis", password="s3cret-token")
    secured.start()
    wrong = ChatInstance(secured.url, tmp_path / "wrong")
    right = ChatInstance(secured.url, tmp_path / "right", env={"CHAT_REDIS_PASSWORD": "s3cret-token"})
    try:
        right.start()
        wrong.launch()
        # Polled, not slept for: a start-up on a loaded machine takes longer than any fixed pause.
        deadline = time.monotonic() + 20
        answer: tuple[int, dict[str, Any]] = (0, {})
        while time.monotonic() < deadline and answer[0] != 503:
            with contextlib.suppress(OSError):
                answer = wrong.healthz()
            time.sleep(0.1)
        status, body = answer
        assert (status, body.get("status")) == (503, "unavailable")

        async def scenario() -> None:
            client = await ChatClient(right.url).connect()
            try:
                await client.join("general", "ana")
                await client.say("general", "authenticated")
                await client.wait_for("message", lambda m: m["text"] == "authenticated")
            finally:
                await client.close()

        asyncio.run(scenario())
        assert "s3cret-token" not in right.logs() + wrong.logs()
    finally:
        right.stop()
        wrong.stop()
        secured.stop()
