"""The message fan-out: the chat's socket.io manager against python-socketio's stock one, and the Redis round trip.

Given the same rooms, when the chat's `ChatManager` and the stock `AsyncRedisManager` deliver the same pub/sub
message, then every member gets the same packet from both; what the chat publishes is the stock manager's own
message (so instances of either kind read each other); and the history append and the PUBLISH travel in one
pipeline to a real redis-server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import socketio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError, ResponseError

from chat import json_codec
from chat.manager import ChatManager
from chat.protocol import ChatMessage
from chat.redis_pipe import RedisPipe
from chat.store import ChatStore
from tests.chat.harness import RedisServer, free_port

UNREACHABLE_REDIS = f"redis://127.0.0.1:{free_port()}/0"  # the managers under test never connect to it
# (sid, eio_sid, room): three members in r-1 (one of them in r-2 as well), one member elsewhere.
MEMBERS = [("s1", "e1", "r-1"), ("s2", "e2", "r-1"), ("s3", "e3", "r-1"), ("s3", "e3", "r-2"), ("s4", "e4", "r-9")]

Sent = list[tuple[str, str]]


def manager_with_members(manager: socketio.AsyncRedisManager) -> tuple[socketio.AsyncRedisManager, Sent]:
    """`manager` on a server whose engine.io sends are recorded, with MEMBERS in its rooms."""
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    sent: Sent = []

    async def send_packet(eio_sid: str, packet: Any) -> None:
        sent.append((eio_sid, packet.encode()))

    server.eio.send_packet = send_packet
    for sid, eio_sid, room in MEMBERS:
        manager.basic_enter_room(sid, "/", None, eio_sid=eio_sid)  # every connection is in the namespace's room
        manager.basic_enter_room(sid, "/", room, eio_sid=eio_sid)
    return manager, sent


def emit_message(**overrides: Any) -> dict[str, Any]:
    """A pub/sub `emit` message as another instance publishes it."""
    message = {
        "method": "emit",
        "event": "message",
        "data": [{"id": "0123456789abcdef", "room": "r-1", "nick": "ana", "text": "h\u00e9llo \U0001f44b", "ts": 1}],
        "binary": False,
        "namespace": "/",
        "room": "r-1",
        "skip_sid": None,
        "callback": None,
        "host_id": "another-instance",
    }
    return {**message, **overrides}


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(emit_message(), id="a chat message to a room"),
        pytest.param(emit_message(skip_sid="s2"), id="to a room but the typist"),
        pytest.param(emit_message(skip_sid=["s1", "s3"]), id="skipping a list of sids"),
        pytest.param(emit_message(data=[None]), id="no arguments"),
        pytest.param(emit_message(data=["a", 2, [True]]), id="several arguments"),
        pytest.param(emit_message(room=None), id="to everyone"),
        pytest.param(emit_message(room="r-404"), id="to a room nobody here is in"),
        pytest.param(emit_message(namespace="/elsewhere"), id="to a namespace nobody here is in"),
    ],
)
def test_local_delivery_sends_each_member_what_the_stock_manager_sends(message: dict[str, Any]) -> None:
    async def scenario() -> None:
        stock, stock_sent = manager_with_members(socketio.AsyncRedisManager(UNREACHABLE_REDIS))
        chat, chat_sent = manager_with_members(ChatManager(UNREACHABLE_REDIS))
        await stock._handle_emit(json.loads(json.dumps(message)))
        await chat._handle_emit(json.loads(json.dumps(message)))
        assert chat_sent == stock_sent

    asyncio.run(scenario())


def test_the_chat_publishes_the_stock_managers_own_message() -> None:
    async def scenario() -> None:
        stock, _ = manager_with_members(socketio.AsyncRedisManager(UNREACHABLE_REDIS))
        chat, chat_sent = manager_with_members(ChatManager(UNREACHABLE_REDIS))
        chat.host_id = stock.host_id
        published: list[dict[str, Any]] = []

        async def publish(message: dict[str, Any]) -> None:
            published.append(message)

        stock._publish = publish
        data = emit_message()["data"][0]
        await stock.emit("message", data, namespace="/", room="r-1")

        emit = chat.room_emit("message", data, room="r-1")
        assert published == [emit.message]
        assert json.loads(emit.payload) == emit.message
        assert emit.channel == stock.channel
        await chat.deliver_locally(emit)
        assert [eio_sid for eio_sid, _ in chat_sent] == ["e1", "e2", "e3"]  # the sender's own instance too

    asyncio.run(scenario())


def run_with_redis(redis_server: RedisServer, body: Callable[[Redis, PubSub], Coroutine[Any, Any, None]]) -> None:
    async def scenario() -> None:
        redis = Redis.from_url(redis_server.url, decode_responses=True)
        pubsub = redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe("fanout-test")
            await body(redis, pubsub)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await redis.aclose()
            for pipe in OPEN_PIPES:
                await pipe.aclose()
            OPEN_PIPES.clear()

    asyncio.run(scenario())


async def published(pubsub: PubSub, count: int) -> AsyncIterator[str]:
    for _ in range(count):
        message = None
        while message is None:
            message = await pubsub.get_message(timeout=5)
        yield message["data"]


def a_message(n: int, room: str) -> ChatMessage:
    return {"id": f"{n:016x}", "room": room, "nick": "ana", "text": f"line {n} \u00e9\U0001f600", "ts": n}


OPEN_PIPES: list[RedisPipe] = []


def a_store(redis: Redis, history_size: int, *, writes_url: str | None = None) -> ChatStore:
    """A store on `redis`, writing through a new RedisPipe to the same server (or to `writes_url`)."""
    pipe = RedisPipe(writes_url or redis_url(redis), connect_timeout_s=1)
    OPEN_PIPES.append(pipe)
    return ChatStore(
        redis,
        pipe,
        instance_id="i",
        key_prefix="fanout",
        history_size=history_size,
        presence_ttl_s=20,
        clock=lambda: 0.0,
    )


def test_history_and_publish_go_to_redis_together_and_the_history_keeps_the_newest(redis_server: RedisServer) -> None:
    async def body(redis: Redis, pubsub: PubSub) -> None:
        store = a_store(redis, history_size=3)
        for n in range(5):
            await store.append_history(a_message(n, "r-1"), publish=("fanout-test", f"payload {n}"))
        assert [payload async for payload in published(pubsub, 5)] == [f"payload {n}" for n in range(5)]
        assert await store.history("r-1") == [a_message(n, "r-1") for n in (2, 3, 4)]
        stored = await redis.lrange("fanout:history:r-1", 0, -1)
        assert [json.loads(item) for item in stored] == [a_message(n, "r-1") for n in (2, 3, 4)]  # plain JSON

    run_with_redis(redis_server, body)


def test_without_history_a_message_is_still_published(redis_server: RedisServer) -> None:
    async def body(redis: Redis, pubsub: PubSub) -> None:
        store = a_store(redis, history_size=0)
        await store.append_history(a_message(1, "r-2"), publish=("fanout-test", "payload"))
        assert [payload async for payload in published(pubsub, 1)] == ["payload"]
        assert await redis.exists("fanout:history:r-2") == 0
        assert await store.history("r-2") == []

    run_with_redis(redis_server, body)


def redis_url(redis: Redis) -> str:
    options = redis.connection_pool.connection_kwargs
    return f"redis://{options['host']}:{options['port']}/{options.get('db', 0)}"


async def connected_clients(redis: Redis) -> int:
    return int((await redis.info("clients"))["connected_clients"])


def test_appends_of_one_event_loop_turn_share_one_pipeline_and_keep_their_order(redis_server: RedisServer) -> None:
    """Twenty messages arriving together: one connection, one round trip, history and channel in arrival order."""

    async def body(redis: Redis, pubsub: PubSub) -> None:
        store = a_store(redis, history_size=50)
        before = await connected_clients(redis)
        await asyncio.gather(
            *(store.append_history(a_message(n, "r-3"), publish=("fanout-test", f"p{n}")) for n in range(20))
        )
        # One pipeline took one connection; twenty separate pipelines would have opened twenty at once.
        assert await connected_clients(redis) == before + 1
        assert [payload async for payload in published(pubsub, 20)] == [f"p{n}" for n in range(20)]
        assert await store.history("r-3") == [a_message(n, "r-3") for n in range(20)]

    run_with_redis(redis_server, body)


def test_when_redis_is_unreachable_every_message_of_the_batch_hears_it(redis_server: RedisServer) -> None:
    async def body(redis: Redis, pubsub: PubSub) -> None:
        store = a_store(redis, history_size=5, writes_url=UNREACHABLE_REDIS)
        outcomes = await asyncio.gather(
            *(store.append_history(a_message(n, "r-4"), publish=("fanout-test", "p")) for n in range(3)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, RedisError) for outcome in outcomes), outcomes

    run_with_redis(redis_server, body)


def test_a_sender_cancelled_before_the_batch_is_sent_is_left_out_and_the_others_are_sent(
    redis_server: RedisServer,
) -> None:
    async def body(redis: Redis, pubsub: PubSub) -> None:
        store = a_store(redis, history_size=5)
        first = asyncio.create_task(store.append_history(a_message(1, "r-5"), publish=("fanout-test", "p1")))
        second = asyncio.create_task(store.append_history(a_message(2, "r-5"), publish=("fanout-test", "p2")))
        await asyncio.sleep(0)  # both in this turn's batch, which is not written yet
        first.cancel()
        await asyncio.wait_for(second, 5)  # stored and published
        assert first.cancelled()
        assert await store.history("r-5") == [a_message(2, "r-5")]  # nothing of the cancelled message
        assert [payload async for payload in published(pubsub, 1)] == ["p2"]
        # The next message is alone in its batch, so a stray p1 would have been published before it.
        await store.append_history(a_message(3, "r-5"), publish=("fanout-test", "p3"))
        assert [payload async for payload in published(pubsub, 1)] == ["p3"]

    run_with_redis(redis_server, body)


def test_an_error_reply_to_one_message_of_a_batch_fails_that_message_alone(redis_server: RedisServer) -> None:
    async def body(redis: Redis, pubsub: PubSub) -> None:
        store = a_store(redis, history_size=5)
        await redis.set("fanout:history:r-7", "not a list")  # RPUSH to it gets a WRONGTYPE error reply
        outcomes = await asyncio.gather(
            store.append_history(a_message(1, "r-7"), publish=("fanout-test", "p-bad")),
            store.append_history(a_message(2, "r-8"), publish=("fanout-test", "p-good")),
            return_exceptions=True,
        )
        assert isinstance(outcomes[0], ResponseError)
        assert outcomes[1] is None  # its commands succeeded: its sender delivers it
        assert await store.history("r-8") == [a_message(2, "r-8")]

    run_with_redis(redis_server, body)


def test_a_first_sender_cancelled_once_the_batch_is_sent_leaves_the_others_its_real_outcome(
    redis_server: RedisServer,
) -> None:
    async def body(redis: Redis, pubsub: PubSub) -> None:
        store = a_store(redis, history_size=5)
        first = asyncio.create_task(store.append_history(a_message(1, "r-6"), publish=("fanout-test", "p1")))
        second = asyncio.create_task(store.append_history(a_message(2, "r-6"), publish=("fanout-test", "p2")))
        await asyncio.sleep(0)  # both in this turn's batch
        await asyncio.sleep(0)  # the first has sent it and waits for Redis
        first.cancel()
        await asyncio.wait_for(second, 5)  # stored and published: the second hears success, not "unavailable"
        assert first.cancelled()
        assert await store.history("r-6") == [a_message(1, "r-6"), a_message(2, "r-6")]
        assert [payload async for payload in published(pubsub, 2)] == ["p1", "p2"]

    run_with_redis(redis_server, body)


@pytest.mark.parametrize(
    "value",
    [
        {"text": "caf\u00e9 \u4e2d\u6587 \U0001f469\u200d\U0001f469\u200d\U0001f467", "quote": '"\\/', "n": -(2**63)},
        ["\u2028\u2029", "\x00\x1f", 1.5, True, None, {}],
        {"room": "general", "messages": [{"id": "a", "ts": 2**53 + 1}]},
    ],
)
def test_the_json_module_reads_and_writes_the_same_values_as_the_standard_one(value: Any) -> None:
    assert json.loads(json_codec.dumps(value)) == value
    assert json_codec.loads(json.dumps(value)) == value
    assert json_codec.loads(json_codec.dumps(value).encode()) == value  # the pub/sub listener hands it bytes
    assert json_codec.dumps(value, separators=(",", ":")) == json.dumps(
        value, separators=(",", ":"), ensure_ascii=False
    )


@pytest.mark.parametrize("text", ["NaN", '"\\ud800"', "[1,", "", "{'a': 1}"])
def test_the_json_module_refuses_what_is_not_json_with_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        json_codec.loads(text)
