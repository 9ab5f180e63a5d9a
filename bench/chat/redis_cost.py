"""Benchmark: the chat's CPU per message in Redis, redis-py against chat/resp_connection.py, writing and reading.

    .venv/bin/python bench/chat/redis_cost.py [--messages 20000] [--batch 1,4] [--runs 3]

Writing: each chat message is RPUSH + LTRIM + PUBLISH in one round trip (`ChatStore._append_batch`); under load
the messages of one event-loop turn share a batch. Per way and batch size, --messages messages go to a
redis-server of its own: redis-py's asyncio pipeline against chat/redis_pipe.py.

Reading: every instance reads every message published on the channel. A separate process publishes
--messages payloads of the chat's size while this one reads them: redis-py's `PubSub.listen()` (what
python-socketio's stock listener iterates) against chat/redis_subscription.py.

It prints this process's CPU microseconds per message (on uvloop, as the chat runs), the median of --runs
interleaved runs. Redis's own CPU and the publisher's are not counted: they are the same for both ways.
Bounded: a fixed number of messages and runs; loopback only.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import hiredis
import uvloop
from chat_targets import ROOT, redis_server
from redis.asyncio import Redis

sys.path.insert(0, str(ROOT))  # the chat package is not installed: it ships in its own container
from chat import json_codec
from chat.redis_address import RedisAddress
from chat.redis_pipe import Command, RedisPipe
from chat.redis_subscription import RedisSubscription
from chat.resp_connection import pack

HISTORY_SIZE = 100
CHANNEL = "bench:channel"
MESSAGE = {"id": "0123456789abcdef", "room": "room-7", "nick": "ana", "text": "hello there, " * 4, "ts": 1.5e12}
PAYLOAD = json_codec.dumps({"method": "emit", "event": "message", "data": [MESSAGE], "host_id": "f" * 32})
WRITERS = ("redis-py pipeline", "chat/redis_pipe.py")
READERS = ("redis-py PubSub.listen", "chat/redis_subscription.py")
END = "end"
# (messages per write, seconds between writes) of the publisher: bursts, and one at a time as the chat's
# instances publish under moderate load (each then arrives in a read of its own).
Pacing = tuple[int, float]
PACINGS: dict[str, Pacing] = {"bursts of 100": (100, 0.0), "one by one, 4,000/s": (1, 0.00025)}
SendBatch = Callable[[int], Awaitable[None]]


def redis_py_sender(redis: Redis) -> SendBatch:
    async def send(batch: int) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(batch):
                pipe.rpush("bench:history", json_codec.dumps(MESSAGE))
                pipe.ltrim("bench:history", -HISTORY_SIZE, -1)
                pipe.publish(CHANNEL, PAYLOAD)
            await pipe.execute()

    return send


def redis_pipe_sender(pipe: RedisPipe) -> SendBatch:
    async def send(batch: int) -> None:
        commands: list[Command] = []
        for _ in range(batch):
            commands.append(("RPUSH", "bench:history", json_codec.dumps(MESSAGE)))
            commands.append(("LTRIM", "bench:history", -HISTORY_SIZE, -1))
            commands.append(("PUBLISH", CHANNEL, PAYLOAD))
        await pipe.execute(commands)

    return send


async def write_cpu_us(send: SendBatch, messages: int, batch: int) -> float:
    for _ in range(100):  # connected and warm
        await send(batch)
    started = time.process_time()
    for _ in range(messages // batch):
        await send(batch)
    return (time.process_time() - started) * 1e6 / (messages // batch * batch)


def publish(port: int, messages: int, chunk: int, pause_s: float) -> None:
    """In another process: `messages` PUBLISHes, pipelined `chunk` at a time `pause_s` apart, then the end mark."""
    commands = pack([("PUBLISH", CHANNEL, PAYLOAD)] * chunk)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(messages // chunk):
            sock.sendall(commands)
            time.sleep(pause_s)
        sock.sendall(pack([("PUBLISH", CHANNEL, END)]))
        reader, replies = hiredis.Reader(), 0
        while replies < messages // chunk * chunk + 1:
            reader.feed(sock.recv(65536))
            while reader.gets() is not False:
                replies += 1


@contextlib.asynccontextmanager
async def redis_py_subscribed(redis: Redis) -> AsyncIterator[AsyncIterator[bytes | str]]:
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    try:
        yield (message["data"] async for message in pubsub.listen())
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]


@contextlib.asynccontextmanager
async def lean_subscribed(redis_url: str) -> AsyncIterator[AsyncIterator[bytes | str]]:
    subscription = await RedisSubscription.open(
        RedisAddress.from_url(redis_url), CHANNEL, connect_timeout_s=2, reply_timeout_s=5
    )
    try:
        yield subscription
    finally:
        subscription.close()


def wait_until_subscribed(port: int) -> None:
    reader = hiredis.Reader()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        while True:
            sock.sendall(pack([("PUBSUB", "NUMSUB", CHANNEL)]))
            reader.feed(sock.recv(1024))
            if reader.gets()[1] > 0:
                return
            time.sleep(0.01)


async def read_cpu_us(
    subscribed: AbstractAsyncContextManager[AsyncIterator[bytes | str]], port: int, messages: int, pacing: Pacing
) -> float:
    async with subscribed as payloads:
        wait_until_subscribed(port)
        publisher = multiprocessing.get_context("spawn").Process(target=publish, args=(port, messages, *pacing))
        publisher.start()
        started, count = time.process_time(), 0
        async for payload in payloads:
            if payload in (END, END.encode()):
                break
            count += 1
        elapsed = time.process_time() - started
        publisher.join()
    if count != messages // pacing[0] * pacing[0]:
        raise RuntimeError(f"read {count} of {messages} messages")
    return elapsed * 1e6 / count


async def measure(redis_url: str, args: argparse.Namespace) -> dict[tuple[str, int | str], list[float]]:
    port = int(redis_url.rsplit(":", 1)[1].split("/", 1)[0])
    redis = Redis.from_url(redis_url, decode_responses=True)
    listener = Redis.from_url(redis_url)  # bytes, as python-socketio's stock listener reads them
    pipe = RedisPipe(redis_url)
    senders = dict(zip(WRITERS, (redis_py_sender(redis), redis_pipe_sender(pipe)), strict=True))
    figures: dict[tuple[str, int | str], list[float]] = {}

    def subscriptions() -> tuple[AbstractAsyncContextManager[AsyncIterator[bytes | str]], ...]:
        return redis_py_subscribed(listener), lean_subscribed(redis_url)

    try:
        for _ in range(args.runs):
            for batch in args.batch:
                for name, send in senders.items():
                    figures.setdefault((name, batch), []).append(await write_cpu_us(send, args.messages, batch))
            for pacing_name, pacing in PACINGS.items():
                for name, subscribed in zip(READERS, subscriptions(), strict=True):
                    figure = await read_cpu_us(subscribed, port, args.messages, pacing)
                    figures.setdefault((name, pacing_name), []).append(figure)
    finally:
        await pipe.aclose()
        await redis.aclose()
        await listener.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=lambda text: [int(part) for part in text.split(",")], default=[1, 4])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, redis_server(Path(workdir)) as redis_url:
        figures = uvloop.run(measure(redis_url, args))
    print(f"CPU per message in this process, median of {args.runs} runs of {args.messages} messages")

    def cell(name: str, case: int | str) -> str:
        return f"{name} {statistics.median(figures[(name, case)]):6.1f} µs"

    for batch in args.batch:
        print(f"  writing, batches of {batch}:".ljust(34) + "   ".join(cell(name, batch) for name in WRITERS))
    for pacing_name in PACINGS:
        print(f"  reading, {pacing_name}:".ljust(34) + "   ".join(cell(name, pacing_name) for name in READERS))


if __name__ == "__main__":
    main()
