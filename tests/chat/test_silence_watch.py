"""The websocket reader's bound on each wait for a frame (chat/websocket_reader.py's `SilenceWatch`).

Given the reader's own loop (`LeanReaderSocket._read_until_closed`) fed by a queue of frames, when one wait
lasts the bound (ping interval + ping timeout), then the reader ends, on time, and leaves no cancellation
behind; frames arriving closer together than the bound, or handling that takes longer than it, never trip it;
a cancellation from elsewhere stays the task's. Real asyncio time, a bound of a fraction of a second. The socket
is a stand-in with only what the loop reads (the served reader is covered in test_transport.py).
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from chat.websocket_reader import LeanReaderSocket

BOUND_S = 0.3  # ping interval + ping timeout
LATE_S = 0.15  # how late a contended machine may run the timer


class FakeSocket:
    """What `_read_until_closed` uses of an engine.io socket: the server's ping settings, a logger, `receive`."""

    def __init__(self, handling_s: float = 0.0) -> None:
        self.server = SimpleNamespace(ping_interval=0.1, ping_timeout=BOUND_S - 0.1, logger=logging.getLogger("t"))
        self.handling_s = handling_s
        self.received = 0

    async def receive(self, pkt: Any) -> None:
        self.received += 1
        await asyncio.sleep(self.handling_s)


async def read(socket: FakeSocket, frames: asyncio.Queue[str]) -> tuple[float, int]:
    """Runs the reader until it ends: how long it ran and how many cancellations its task still carries."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await LeanReaderSocket._read_until_closed(socket, frames.get)
    task = asyncio.current_task()
    assert task is not None
    return loop.time() - started, task.cancelling()


def test_a_wait_that_lasts_the_bound_ends_the_reader_on_time_with_no_cancellation_left() -> None:
    elapsed_s, cancelling = asyncio.run(read(FakeSocket(), asyncio.Queue()))
    assert BOUND_S <= elapsed_s < BOUND_S + LATE_S
    assert cancelling == 0


def test_frames_closer_together_than_the_bound_never_trip_it_however_long_they_go_on() -> None:
    async def scenario() -> tuple[int, float]:
        socket, frames = FakeSocket(), asyncio.Queue[str]()

        async def feed() -> None:
            for _ in range(10):  # 1 s of frames, 3.3 bounds
                await asyncio.sleep(BOUND_S / 3)
                frames.put_nowait("4hello")

        feeding = asyncio.create_task(feed())
        elapsed_s, _ = await read(socket, frames)
        await feeding
        return socket.received, elapsed_s

    received, elapsed_s = asyncio.run(scenario())
    assert received == 10
    # The last wait started at the last frame, so the reader ended a bound after it.
    assert 10 * BOUND_S / 3 + BOUND_S <= elapsed_s < 10 * BOUND_S / 3 + BOUND_S + LATE_S


def test_handling_a_frame_for_longer_than_the_bound_does_not_count_as_silence() -> None:
    async def scenario() -> int:
        socket, frames = FakeSocket(handling_s=BOUND_S * 1.5), asyncio.Queue[str]()
        for _ in range(2):
            frames.put_nowait("4hello")
        await read(socket, frames)
        return socket.received

    assert asyncio.run(scenario()) == 2


def test_a_cancellation_from_elsewhere_stays_the_task_s_also_when_the_bound_ends_in_the_same_turn() -> None:
    async def scenario(cancel_after_s: float) -> int:
        reader = asyncio.create_task(read(FakeSocket(), asyncio.Queue()))
        await asyncio.sleep(0)  # the reader starts its wait and its watch
        asyncio.get_running_loop().call_later(cancel_after_s, reader.cancel)  # as a server shutting down does
        _, cancelling = await reader
        return cancelling

    assert asyncio.run(scenario(0.02)) == 1  # well before the bound
    assert asyncio.run(scenario(BOUND_S)) == 1  # due with the watch's own timer
