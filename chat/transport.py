"""Engine.io sockets that write websocket frames at once instead of through a writer task.

python-engineio hands every outgoing packet to a per-socket queue; a writer task per connection takes it out
(`poll`, which in Python 3.11 wraps each wait in `asyncio.wait_for`: a new task per packet) and writes it to
the websocket. A room message to ten members is ten queue hand-offs, ten writer wake-ups and ten extra
tasks. Profiled under the chat benchmark, that hand-off was a quarter of the server's CPU per message.

`DirectWriteSocket.send` writes the frame itself when nothing can overtake it and the write cannot wait: the
connection is an upgraded websocket, its transport is writable (not paused for backpressure), nothing is
queued, and the writer task is not holding packets it took out of the queue but has not written yet. Anything
else (long-polling, the upgrade hand-over, a paused transport, a writer busy with a batch) takes engine.io's
own queue, so packets leave in the order they were sent. A direct write is thus one step, never a wait: a
client that stays connected but stops reading makes only its own writer task wait, never the sender or the
pub/sub listener delivering to everyone else (a member's send is awaited in turn, chat/manager.py).
Whether the transport is writable is uvicorn's `writable` event on its websocket protocol; under a server
without one every packet takes the queue. Under uvicorn's default (websockets-sansio) protocol the frame goes
straight to the transport, serialized once per room message (chat/websocket_frames.py); under its other
protocols, through ASGI.

engine.io's `poll` waits through `asyncio.wait_for`, whose inner task takes the packet off the queue a loop
turn before the writer resumes holding it; a direct send in between would go first. `poll` here awaits the
queue itself, so taking a packet and marking it held happen in one step (and no task is made per wake-up).

Pings skip the queue too, so the writer task's own wait must not time out on an empty queue (engine.io takes
that for a dead client); the reader's timeout still ends a silent connection, writer included. A send to a
client whose pings stopped starts its close in a task of its own instead of running it (and the disconnect
handler's Redis round trips) inside the sender.

The socket reads with chat/websocket_reader.py's handler (no task per inbound frame).

engine.io builds its sockets with a hard-coded class, so `promote` turns a freshly created one into this
subclass (same state, more behaviour) while its connect event runs, before it carries any client packet.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import socketio
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket
from engineio.exceptions import QueueEmpty, SocketIsClosedError

from chat.websocket_frames import FrameWriter, frame_writer_of, server_protocol_of, text_frame_of
from chat.websocket_reader import LeanReaderSocket

logger = logging.getLogger("chat.transport")


class DirectWriteSocket(LeanReaderSocket):
    # The websocket of an upgraded connection (engine.io's ASGI wrapper), None while polling or upgrading.
    _websocket: Any = None
    # Set while that websocket's transport takes writes without waiting: uvicorn's protocol clears it while
    # the transport is paused for backpressure. None under a server that does not expose it.
    _writable: asyncio.Event | None = None
    # Writes frames straight to that websocket's transport (chat/websocket_frames.py); None under another server.
    _frame_writer: FrameWriter | None = None
    # True from the moment the writer task takes packets out of the queue until it asks for more: those
    # packets are not written yet, and a direct write would overtake them. Starts True: there is no writer yet.
    _writer_holding: bool = True
    # The close of a client that stopped answering pings, run in a task of its own (see check_ping_timeout).
    _ping_timeout_close: asyncio.Task[None] | None = None

    async def _websocket_handler(self, ws: Any) -> None:
        try:
            self._websocket = ws
            self._writable = writable_event_of(ws)
            self._frame_writer = frame_writer_of(ws)
            await super()._websocket_handler(ws)
        finally:
            self._websocket = None
            self._writable = None
            self._frame_writer = None

    async def poll(self) -> list[eio_packet.Packet]:
        """engine.io's `poll` (what it returns and raises), without the loop turn between taking and holding."""
        # Asking for more means the caller wrote what it took last time (or has given up on the connection).
        self._writer_holding = False
        wait_s = self.server.ping_interval + self.server.ping_timeout
        while True:
            try:
                async with asyncio.timeout(wait_s):
                    first = await self.queue.get()
                break
            except TimeoutError:
                # engine.io's writer gives up after a ping interval and timeout without a queued packet, taking
                # silence for a dead client; here the pings themselves skip the queue. The reader still times out
                # a silent client, and ends the writer (a None in the queue) when it does.
                if self._websocket is None or not self.upgraded or self.closed:
                    raise QueueEmpty() from None
            except asyncio.CancelledError:
                raise QueueEmpty() from None  # as engine.io does: its callers end the connection on QueueEmpty
        # Taken and held in the same step: no send can see an empty queue and a free writer in between.
        self._writer_holding = True
        self.queue.task_done()
        if first is None:  # engine.io's end-of-connection mark
            return []
        return self._with_the_rest_queued(first)

    def _with_the_rest_queued(self, first: eio_packet.Packet) -> list[eio_packet.Packet]:
        packets = [first]
        while not self.queue.empty():
            more = self.queue.get_nowait()
            self.queue.task_done()
            if more is None:  # leave the mark for the next poll, as engine.io does
                self.queue.put_nowait(None)
                break
            packets.append(more)
        return packets

    async def check_ping_timeout(self) -> bool:
        """engine.io's check, except that a client gone silent is closed in a task of its own.

        engine.io closes it inline, and the close awaits the disconnect handler (Redis round trips, a presence
        update to the room): inside whoever was sending to it, such as the pub/sub listener delivering to
        everyone. The client that stops answering pings is typically the one that stopped reading.
        """
        if self.closed:
            raise SocketIsClosedError()
        last_ping = self.last_ping
        if last_ping and time.time() - last_ping > self.server.ping_timeout:
            if self._ping_timeout_close is None:
                self.server.logger.info("%s: Client is gone, closing socket", self.sid)
                # With engine.io's own arguments; only where it runs differs.
                self._ping_timeout_close = asyncio.get_running_loop().create_task(
                    self.close(wait=False, abort=False, reason=self.server.reason.PING_TIMEOUT)
                )
            return False
        return True

    async def send(self, pkt: eio_packet.Packet) -> None:
        websocket = self._websocket
        if (
            websocket is None
            or self._writer_holding
            or not self.upgraded
            or self.upgrading
            or self.closed
            or not self.queue.empty()
        ):
            await super().send(pkt)
            return
        if not await self.check_ping_timeout():
            return
        # Checked last, with no await between it and the write: a writable transport writes in this step.
        writable = self._writable
        if writable is None or not writable.is_set():
            await super().send(pkt)
            return
        try:
            frame_writer = self._frame_writer
            if frame_writer is not None:
                frame = text_frame_of(pkt)
                if frame is not None and frame_writer.write(frame):
                    return
            await websocket.send(pkt.encode())
        except Exception:  # the websocket is gone: engine.io's writer sees it too and closes the socket
            await super().send(pkt)


def writable_event_of(ws: Any) -> asyncio.Event | None:
    """uvicorn's `writable` event for engine.io's ASGI websocket `ws`, or None under another server.

    uvicorn's websocket protocols set `writable` while their transport takes writes and await it before each one.
    """
    protocol = server_protocol_of(ws)
    writable = getattr(protocol, "writable", None)
    if isinstance(writable, asyncio.Event):
        return writable
    _warn_without_direct_writes(type(protocol).__name__)
    return None


@functools.cache  # once per kind of server
def _warn_without_direct_writes(send_of: str) -> None:
    logger.warning(
        "the server's websocket send has no writable event: every packet takes engine.io's queue",
        extra={"send_of": send_of},
    )


def promote(socket: AsyncSocket) -> None:
    """Give a socket engine.io just created the direct write path (a no-op for any other socket class)."""
    if type(socket) is AsyncSocket:
        socket.__class__ = DirectWriteSocket


class DirectWriteServer(socketio.AsyncServer):  # type: ignore[misc]  # python-socketio ships no type hints
    """python-socketio's `AsyncServer` whose engine.io sockets write websocket frames directly."""

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        # engine.io calls this right after registering the socket; only its OPEN packet is queued so far.
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None:
            promote(socket)
        await super()._handle_eio_connect(eio_sid, environ)
