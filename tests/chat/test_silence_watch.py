"""The websocket reader's bound on each wait for a frame (chat/websocket_reader.py's `SilenceWatch`).

Given a task that waits for frames and handles them, when one wait lasts the limit, then the task is cancelled
(and the watch undoes its own cancellation); frames arriving closer together than the limit, or handling that
takes longer than it, never trip it. Real asyncio time, limits of a fraction of a second.
"""

from __future__ import annotations

import asyncio

from chat.websocket_reader import SilenceWatch

LIMIT_S = 0.2


async def reader(frame_gaps_s: list[float], *, handling_s: float = 0.0, last_wait_s: float = 0.0) -> str:
    """Waits `frame_gaps_s` for successive frames, handles each for `handling_s`, then waits `last_wait_s`."""
    watch = SilenceWatch(LIMIT_S)
    try:
        for gap_s in [*frame_gaps_s, last_wait_s]:
            watch.waiting()
            try:
                await asyncio.sleep(gap_s)
            except asyncio.CancelledError:
                watch.forgive_own_cancel()
                task = asyncio.current_task()
                assert task is not None
                return f"cancelled while waiting, cancelling {task.cancelling()}"
            watch.handling()
            await asyncio.sleep(handling_s)
        return "read everything"
    finally:
        watch.stop()


def test_a_wait_that_lasts_the_limit_ends_the_reader_and_leaves_no_cancellation_behind() -> None:
    assert asyncio.run(reader([0.05], last_wait_s=LIMIT_S * 3)) == "cancelled while waiting, cancelling 0"


def test_frames_closer_together_than_the_limit_never_trip_it_however_long_they_go_on() -> None:
    assert asyncio.run(reader([LIMIT_S * 0.6] * 8)) == "read everything"  # 4.8 limits in all


def test_handling_a_frame_for_longer_than_the_limit_does_not_count_as_silence() -> None:
    outcome = asyncio.run(reader([0.01, LIMIT_S * 0.6], handling_s=LIMIT_S * 1.5, last_wait_s=LIMIT_S * 0.6))
    assert outcome == "read everything"


def test_a_cancellation_from_elsewhere_is_left_to_the_task() -> None:
    async def scenario() -> str:
        task = asyncio.create_task(reader([], last_wait_s=LIMIT_S * 0.5))
        await asyncio.sleep(0.02)
        task.cancel()  # as a server shutting down does
        return await task

    assert asyncio.run(scenario()) == "cancelled while waiting, cancelling 1"
