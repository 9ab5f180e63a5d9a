"""Benchmark: CPU per chat message of the history append + PUBLISH, redis-py's pipeline against chat/redis_pipe.py.

    .venv/bin/python bench/chat/redis_write_cost.py [--messages 20000] [--batch 1,4] [--runs 3]

Each chat message is RPUSH + LTRIM + PUBLISH in one round trip (`ChatStore._append_batch`); under load the
messages of one event-loop turn share a batch. Per way and batch size this sends --messages messages to a
redis-server of its own (on uvloop, as the chat runs) and prints this process's CPU microseconds per
message, the median of --runs interleaved runs. Redis's own CPU is not counted: it is the same for both.
Bounded: a fixed number of messages and runs; loopback only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop
from chat_targets import ROOT, redis_server
from redis.asyncio import Redis

sys.path.insert(0, str(ROOT))  # the chat package is not installed: it ships in its own container
from chat import json_codec
from chat.redis_pipe import Command, RedisPipe

HISTORY_SIZE = 100
MESSAGE = {"id": "0123456789abcdef", "room": "room-7", "nick": "ana", "text": "hello there, " * 4, "ts": 1.5e12}
PAYLOAD = json_codec.dumps({"method": "emit", "event": "message", "data": [MESSAGE], "host_id": "f" * 32})
SendBatch = Callable[[int], Awaitable[None]]


def redis_py_sender(redis: Redis) -> SendBatch:
    async def send(batch: int) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(batch):
                pipe.rpush("bench:history", json_codec.dumps(MESSAGE))
                pipe.ltrim("bench:history", -HISTORY_SIZE, -1)
                pipe.publish("bench:channel", PAYLOAD)
            await pipe.execute()

    return send


def redis_pipe_sender(pipe: RedisPipe) -> SendBatch:
    async def send(batch: int) -> None:
        commands: list[Command] = []
        for _ in range(batch):
            commands.append(("RPUSH", "bench:history", json_codec.dumps(MESSAGE)))
            commands.append(("LTRIM", "bench:history", -HISTORY_SIZE, -1))
            commands.append(("PUBLISH", "bench:channel", PAYLOAD))
        await pipe.execute(commands)

    return send


async def cpu_us_per_message(send: SendBatch, messages: int, batch: int) -> float:
    for _ in range(100):  # connected and warm
        await send(batch)
    started = time.process_time()
    for _ in range(messages // batch):
        await send(batch)
    return (time.process_time() - started) * 1e6 / (messages // batch * batch)


async def measure(redis_url: str, args: argparse.Namespace) -> dict[tuple[str, int], list[float]]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    pipe = RedisPipe(redis_url)
    ways = {"redis-py pipeline": redis_py_sender(redis), "chat/redis_pipe.py": redis_pipe_sender(pipe)}
    figures: dict[tuple[str, int], list[float]] = {}
    try:
        for _ in range(args.runs):
            for batch in args.batch:
                for name, send in ways.items():
                    figures.setdefault((name, batch), []).append(await cpu_us_per_message(send, args.messages, batch))
    finally:
        await pipe.aclose()
        await redis.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=lambda text: [int(part) for part in text.split(",")], default=[1, 4])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, redis_server(Path(workdir)) as redis_url:
        figures = uvloop.run(measure(redis_url, args))
    print(f"CPU per message (history append + PUBLISH), median of {args.runs} runs, {args.messages} messages each")
    for batch in args.batch:
        cells = [
            f"{name} {statistics.median(figures[(name, batch)]):6.1f} µs"
            for name in ("redis-py pipeline", "chat/redis_pipe.py")
        ]
        print(f"  batches of {batch}: " + "   ".join(cells))


if __name__ == "__main__":
    main()
