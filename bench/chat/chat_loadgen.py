"""The benchmark's load: many socket.io clients in one asyncio process, speaking the wire protocol directly.

Each client is one websocket speaking Engine.IO v4 / Socket.IO v5 (`40` connect, `42[event, data]`
events, answering the server's `2` pings with `3`). Written by hand rather than with python-socketio's client
so that 500 clients cost the load generator little CPU: the generator shares the machine's two cores with the
servers it measures, and whatever it spends is the same for both servers.

A message carries its id and its send time in its text; every member of the room (the sender included,
as socket.io's `io.to(room)` does) records when it arrived. A message's latency is the time until its LAST
recipient had it (send -> every recipient).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

CONNECT_TIMEOUT_S = 10.0


@dataclass
class Tracker:
    """Send times and arrivals of every message of the current step."""

    sent_at: dict[str, float] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    arrivals: dict[str, int] = field(default_factory=dict)
    completed_after: dict[str, float] = field(default_factory=dict)
    deliveries: int = 0
    refused: int = 0

    def record(self, message_id: str, now: float) -> None:
        sent = self.sent_at.get(message_id)
        if sent is None:
            return  # a message of an earlier step
        self.deliveries += 1
        count = self.arrivals.get(message_id, 0) + 1
        self.arrivals[message_id] = count
        if count == self.expected[message_id]:
            self.completed_after[message_id] = now - sent


class Client:
    def __init__(self, url: str, room: str, nick: str, tracker_ref: list[Tracker]) -> None:
        self.url = url
        self.room = room
        self.nick = nick
        self.tracker_ref = tracker_ref  # one-element list: the driver swaps trackers between steps
        self.ws: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.joined = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws = await websockets.connect(ws_url, compression=None, max_size=2**20, ping_interval=None)
        opening = await self.ws.recv()
        if not (isinstance(opening, str) and opening.startswith("0")):
            raise RuntimeError(f"not an engine.io server: {opening!r}")
        await self.ws.send("40")
        self.reader = asyncio.get_running_loop().create_task(self._read())
        # Events sent before the namespace CONNECT ack are a protocol violation (Node's server hangs up).
        await asyncio.wait_for(self.connected.wait(), CONNECT_TIMEOUT_S)
        await self.ws.send("42" + json.dumps(["join", {"room": self.room, "nick": self.nick}]))
        await asyncio.wait_for(self.joined.wait(), CONNECT_TIMEOUT_S)

    async def say(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send("42" + json.dumps(["message", {"room": self.room, "text": text}]))

    async def _read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            if not isinstance(frame, str):
                continue
            if frame == "2":
                await self.ws.send("3")
            elif frame.startswith("42"):
                self._on_event(frame)
            elif frame.startswith("40"):
                self.connected.set()

    def _on_event(self, frame: str) -> None:
        event, data = json.loads(frame[2:])[:2]
        if event == "message":
            self.tracker_ref[0].record(data["text"].split(" ", 1)[0], time.perf_counter())
        elif event == "history":
            self.joined.set()
        elif event == "error":
            self.tracker_ref[0].refused += 1

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


@dataclass
class StepResult:
    offered_per_s: float
    sent: int
    expected_deliveries: int
    deliveries: int
    refused: int
    duration_s: float
    latencies_s: list[float]
    servers_cpu_ms_per_msg: float = 0.0  # CPU the chat instances spent, per message sent (filled by the caller)
    driver_cpu_ms_per_msg: float = 0.0
    machine_busy_cores: float = 0.0  # every process on the machine, ours and anyone else's (filled by the caller)

    @property
    def delivered_per_s(self) -> float:
        return self.deliveries / self.duration_s

    @property
    def complete_ratio(self) -> float:
        return self.deliveries / self.expected_deliveries if self.expected_deliveries else 1.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("inf")
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered_msgs_per_s": self.offered_per_s,
            "sent": self.sent,
            "deliveries": self.deliveries,
            "complete_ratio": round(self.complete_ratio, 4),
            "delivered_per_s": round(self.delivered_per_s, 1),
            "p50_ms": round(self.percentile_ms(0.50), 2),
            "p99_ms": round(self.percentile_ms(0.99), 2),
            "refused": self.refused,
            "servers_cpu_ms_per_msg": round(self.servers_cpu_ms_per_msg, 3),
            "load_generator_cpu_ms_per_msg": round(self.driver_cpu_ms_per_msg, 3),
            "machine_busy_cores": round(self.machine_busy_cores, 2),
        }


class LoadGenerator:
    def __init__(self, urls: list[str], clients: int, room_size: int, seed: int = 7) -> None:
        self.tracker_ref = [Tracker()]
        if room_size < len(urls):
            raise ValueError(f"a room of {room_size} cannot have members on each of {len(urls)} instances")
        rooms = clients // room_size
        # Client n is member number n // rooms of room n % rooms; members take turns at instances, so every
        # message crosses instances (pub/sub to the others' members), as in a real deployment behind a balancer.
        self.clients = [
            Client(urls[(n // rooms) % len(urls)], f"r-{n % rooms}", f"user{n}", self.tracker_ref)
            for n in range(rooms * room_size)
        ]
        self.room_size = room_size
        self.random = random.Random(seed)

    @property
    def rooms(self) -> list[str]:
        return sorted({client.room for client in self.clients})

    async def connect(self, concurrency: int = 50) -> float:
        started = time.perf_counter()
        gate = asyncio.Semaphore(concurrency)

        async def one(client: Client) -> None:
            async with gate:
                await client.connect()

        await asyncio.gather(*(one(client) for client in self.clients))
        return time.perf_counter() - started

    async def step(self, rate_per_s: float, duration_s: float, settle_s: float) -> StepResult:
        """Send at `rate_per_s` (random senders) for `duration_s`, then wait `settle_s` for stragglers."""
        tracker = Tracker()
        self.tracker_ref[0] = tracker
        total = int(rate_per_s * duration_s)
        start = time.perf_counter()
        for n in range(total):
            due = start + n / rate_per_s
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sender = self.random.choice(self.clients)
            message_id = f"m{n}"
            tracker.expected[message_id] = self.room_size
            tracker.sent_at[message_id] = time.perf_counter()
            await sender.say(f"{message_id} load test message")
        sent_for_s = time.perf_counter() - start
        deadline = time.perf_counter() + settle_s
        while time.perf_counter() < deadline and len(tracker.completed_after) < total:
            await asyncio.sleep(0.05)
        return StepResult(
            offered_per_s=rate_per_s,
            sent=total,
            expected_deliveries=total * self.room_size,
            deliveries=tracker.deliveries,
            refused=tracker.refused,
            duration_s=max(sent_for_s, duration_s),
            latencies_s=list(tracker.completed_after.values())
            + [float("inf")] * (total - len(tracker.completed_after)),
        )

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.clients), return_exceptions=True)
