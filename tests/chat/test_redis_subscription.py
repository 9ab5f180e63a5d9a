"""The chat's pub/sub listener (chat/redis_subscription.py, ChatManager._listen) against a real redis-server.

Given a subscription, when payloads are published, then they arrive whole and in order, also many more than
the connection buffers before it stops reading and payloads larger than one read; a lost connection ends the
iteration with a RedisError once what arrived was taken. The manager's listener passes on what other
instances publish and drops only its own room events, which the stock listener ignores after decoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import socketio
import uvloop
from engineio import packet as eio_packet
from redis.asyncio import Redis
from redis.exceptions import ConnectionError, RedisError
from socketio import packet as sio_packet

from chat import json_codec
from chat import manager as manager_module
from chat.manager import ChatManager
from chat.redis_address import RedisAddress
from chat.redis_subscription import RedisSubscription
from chat.resp_connection import PAUSE_READING_AT
from tests.chat.harness import RedisServer

CHANNEL = "subscription-test"


def with_subscription(url: str, body: Callable[[RedisSubscription, Redis], Awaitable[None]], **auth: str) -> None:
    async def scenario() -> None:
        publisher = Redis.from_url(url, **auth)  # type: ignore[arg-type]
        subscription = await RedisSubscription.open(
            RedisAddress.from_url(url, **auth), CHANNEL, connect_timeout_s=1, reply_timeout_s=5
        )
        try:
            await body(subscription, publisher)
        finally:
            subscription.close()
            await publisher.aclose()

    uvloop.run(scenario())


async def take(subscription: RedisSubscription, count: int) -> list[bytes]:
    async def collect() -> list[bytes]:
        return [await anext(subscription) for _ in range(count)]

    return await asyncio.wait_for(collect(), 10)


def test_payloads_arrive_whole_and_in_order(redis_server: RedisServer) -> None:
    payloads = [f"message {n} \u00e9\U0001f600".encode() for n in range(50)] + [b"x" * 300_000, b"", b"last"]

    async def body(subscription: RedisSubscription, publisher: Redis) -> None:
        for payload in payloads:
            await publisher.publish(CHANNEL, payload)
        await publisher.publish("another-channel", "not for us")
        assert await take(subscription, len(payloads)) == payloads

    with_subscription(redis_server.url, body)


def test_a_consumer_that_falls_behind_gets_everything_once_it_reads(redis_server: RedisServer) -> None:
    """More than the connection holds before it stops reading: it must start reading again, not stall."""
    count = PAUSE_READING_AT * 2 + 7

    async def body(subscription: RedisSubscription, publisher: Redis) -> None:
        async with publisher.pipeline(transaction=False) as pipe:
            for n in range(count):
                pipe.publish(CHANNEL, str(n))
            await pipe.execute()
        await asyncio.sleep(0.2)  # everything is on its way while nobody reads
        assert await take(subscription, count) == [str(n).encode() for n in range(count)]

    with_subscription(redis_server.url, body)


def test_a_lost_connection_ends_the_iteration_after_what_arrived(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()

    async def body(subscription: RedisSubscription, publisher: Redis) -> None:
        await publisher.publish(CHANNEL, "before")
        await asyncio.sleep(0.1)
        await asyncio.to_thread(server.stop)
        assert await take(subscription, 1) == [b"before"]
        with pytest.raises(ConnectionError, match="lost"):
            await asyncio.wait_for(anext(subscription), 5)

    try:
        with_subscription(server.url, body)
    finally:
        server.stop()


def test_subscribing_needs_the_password_of_a_redis_that_has_one(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis", password="s3cret-token")
    server.start()

    async def body(subscription: RedisSubscription, publisher: Redis) -> None:
        await publisher.publish(CHANNEL, "secret")
        assert await take(subscription, 1) == [b"secret"]

    async def without_password() -> None:
        await RedisSubscription.open(RedisAddress.from_url(server.url), CHANNEL, connect_timeout_s=1, reply_timeout_s=5)

    try:
        with_subscription(server.url, body, password="s3cret-token")
        with pytest.raises(RedisError, match="NOAUTH"):
            uvloop.run(without_password())
    finally:
        server.stop()


def a_room_event(manager: ChatManager, data: object) -> bytes:
    return manager.room_emit("message", data, room="r-1").payload.encode()


@pytest.fixture(autouse=True)
def packet_json_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server given a JSON module sets it on the packet classes, for the whole process: undone after each test."""
    monkeypatch.setattr(sio_packet.Packet, "json", sio_packet.Packet.json)
    monkeypatch.setattr(eio_packet.Packet, "json", eio_packet.Packet.json)


def a_manager(url: str, json_module: Any) -> ChatManager:
    """A manager whose server encodes with `json_module` (the chat's servers use chat/json_codec.py)."""
    manager = ChatManager(url, channel=CHANNEL)
    socketio.AsyncServer(async_mode="asgi", client_manager=manager, json=json_module)
    return manager


@pytest.mark.parametrize("json_module", [json_codec, json], ids=["chat json", "standard json"])
def test_only_this_instances_own_room_events_count_as_its_own(json_module: Any) -> None:
    mine, other = (a_manager("redis://127.0.0.1:1/0", json_module) for _ in range(2))
    assert mine.json is json_module
    marker = {"host_id": mine.host_id}
    assert mine.is_own_emit(a_room_event(mine, {"text": "hi"}))
    assert mine.is_own_emit(a_room_event(mine, marker))
    assert not other.is_own_emit(a_room_event(mine, {"text": "hi"}))
    # Another instance's events, whatever their data says: a nested host_id, or its text in a string.
    assert not mine.is_own_emit(a_room_event(other, marker))
    assert not mine.is_own_emit(a_room_event(other, {"text": json_codec.dumps(marker)[1:-1]}))
    assert not mine.is_own_emit(a_room_event(other, [json.dumps(marker)]))
    # A callback for this instance, which the stock listener does handle, in either JSON spelling.
    callback = {"method": "callback", "sid": "s1", "namespace": "/", "id": 1, "args": [], "host_id": mine.host_id}
    assert not mine.is_own_emit(json_codec.dumps(callback).encode())
    assert not mine.is_own_emit(json.dumps(callback).encode())


def test_the_listener_passes_on_what_others_publish_and_drops_its_own_room_events(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        mine, other = (a_manager(redis_server.url, json_codec) for _ in range(2))
        publisher = Redis.from_url(redis_server.url)
        listener = mine._listen()
        try:
            first = asyncio.ensure_future(anext(listener))
            while (await publisher.pubsub_numsub(CHANNEL))[0][1] == 0:
                await asyncio.sleep(0.01)
            foreign = [a_room_event(other, {"n": n}) for n in range(3)]
            disconnect = json_codec.dumps({"method": "disconnect", "sid": "s1", "host_id": mine.host_id}).encode()
            for payload in (a_room_event(mine, {"n": 0}), foreign[0], a_room_event(mine, {"n": 1}), *foreign[1:]):
                await publisher.publish(CHANNEL, payload)
            await publisher.publish(CHANNEL, disconnect)  # its own, but not a room event: the stock path decides
            received = [await asyncio.wait_for(first, 5)]
            received += [await asyncio.wait_for(anext(listener), 5) for _ in range(3)]
            assert received == [*foreign, disconnect]
        finally:
            await listener.aclose()
            await publisher.aclose()

    uvloop.run(scenario())


def test_the_listener_subscribes_again_after_redis_restarts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_module, "FIRST_RETRY_S", 0.05)
    server = RedisServer(tmp_path / "redis")
    server.start()

    async def scenario() -> None:
        mine, other = (a_manager(server.url, json_codec) for _ in range(2))
        listener = mine._listen()
        try:
            for attempt in ("before", "after"):
                waiting = asyncio.ensure_future(anext(listener))
                payload = a_room_event(other, attempt)
                deadline = asyncio.get_running_loop().time() + 10
                while not waiting.done() and asyncio.get_running_loop().time() < deadline:
                    await publish_once(server.url, payload)  # lost while nobody is subscribed, so again
                    await asyncio.wait({waiting}, timeout=0.1)
                assert await waiting == payload
                if attempt == "before":
                    await asyncio.to_thread(server.stop)
                    await asyncio.to_thread(server.start)
        finally:
            await listener.aclose()

    try:
        uvloop.run(scenario())
    finally:
        server.stop()


async def publish_once(url: str, payload: bytes) -> None:
    publisher = Redis.from_url(url)
    try:
        await publisher.publish(CHANNEL, payload)
    finally:
        await publisher.aclose()


def test_a_subscription_lost_at_once_is_retried_with_backoff_not_in_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that takes the SUBSCRIBE and hangs up (not Redis: a scripted socket)."""
    monkeypatch.setattr(manager_module, "FIRST_RETRY_S", 0.05)
    subscriptions: list[int] = []

    async def take_subscribe_and_hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(CHANNEL.encode() + b"\r\n")
        subscriptions.append(1)
        writer.write(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL.encode()))
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(take_subscribe_and_hang_up, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        listener = ChatManager(f"redis://127.0.0.1:{port}/0", channel=CHANNEL)._listen()
        waiting = asyncio.ensure_future(anext(listener))
        await asyncio.sleep(1.0)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        server.close()
        await listener.aclose()

    uvloop.run(scenario())
    # 0.05 s after each loss at least: about 20 in a second; a tight loop makes thousands.
    assert 5 <= len(subscriptions) <= 25, len(subscriptions)
