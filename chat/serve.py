"""Run one chat instance under uvicorn, with a SIGTERM that drains before the server stops.

uvicorn's own SIGTERM handling closes the listener and the websockets at once; a Fargate scale-in deserves
better: `DrainingServer` first runs `ChatRuntime.drain` (clients are asked to reconnect elsewhere), then lets
uvicorn shut down. A second signal skips what is left of the drain.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType

import uvicorn

from chat.runtime import ChatRuntime
from chat.settings import ChatSettings

logger = logging.getLogger("chat.serve")

# Long-polling requests still open after the drain get this long before uvicorn cancels them.
GRACEFUL_SHUTDOWN_S = 2
# Cleaning up after uvicorn (background tasks, presence in Redis, the pub/sub listener) gets this long.
STOP_TIMEOUT_S = 3


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runtime: ChatRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self._drain_task: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Called by the signal handler in the loop's own thread; the loop runs the drain as a task.
        if self._drain_task is None and not self.should_exit:
            logger.info("signal received, draining", extra={"signal": signal.Signals(sig).name})
            self._drain_task = asyncio.get_event_loop().create_task(self._drain_then_exit())
        else:
            self.should_exit = True
            self.force_exit = sig == signal.SIGINT

    async def _drain_then_exit(self) -> None:
        try:
            await self.runtime.drain()
        finally:
            self.should_exit = True


def server_config(runtime: ChatRuntime, settings: ChatSettings) -> uvicorn.Config:
    """How uvicorn serves a chat instance (the tests serve in-process with the same configuration)."""
    return uvicorn.Config(
        runtime.asgi,
        host=settings.host,
        port=settings.port,
        lifespan="off",
        log_config=None,
        access_log=False,
        ws_max_size=settings.max_packet_bytes,
        # Chat packets are small; compressing each costs more CPU than it saves (socket.io's default too).
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


async def serve(settings: ChatSettings) -> None:
    runtime = ChatRuntime(settings)
    server = DrainingServer(server_config(runtime, settings), runtime)
    await runtime.start()
    try:
        await server.serve()
    finally:
        # Bounded: a connection or background task that does not let go must not keep a stopping task alive
        # until ECS kills it; the drain already told every client to reconnect elsewhere.
        try:
            await asyncio.wait_for(runtime.stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            logger.warning("stop did not finish in time; exiting anyway", extra={"timeout_s": STOP_TIMEOUT_S})
        logger.info("stopped")
