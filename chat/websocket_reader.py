"""engine.io's websocket handler with a reader that waits for each frame itself instead of through a task.

python-engineio 4.15.1's handler (pinned in chat/requirements.txt) reads every inbound frame through a new
task (`ensure_future`) awaited in `asyncio.wait_for`: in Python 3.11 that is a task, a waiter future and a
timer per frame, and three event-loop turns between the frame arriving and the reader handling it (two on
3.12). Under load every turn is latency for whatever is in flight. Here the reader awaits the frame itself:
one turn, no task; the same bound on each wait comes from one timer re-armed at most once per bound
(`SilenceWatch`), not a timer made and cancelled per frame.

Everything else is engine.io's handler as it is: the upgrade from long-polling (probe, then UPGRADE), the
writer task, the size limit, and the end of the connection (a silent client times out after a ping interval
and timeout; the writer is told to finish, then the socket closes). Keep it in step with engine.io when the
pin moves.
"""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import exceptions
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket


class LeanReaderSocket(AsyncSocket):  # type: ignore[misc]  # python-engineio ships no type hints
    # engine.io's state, set in its constructor: connected once the handshake is out, upgraded to websocket.
    connected: bool
    upgraded: bool
    upgrading: bool

    async def _websocket_handler(self, ws: Any) -> None:
        """engine.io's handler for the websocket transport, with the lean read loop."""
        server = self.server

        async def websocket_wait() -> Any:
            data = await ws.wait()
            if data and len(data) > server.max_http_buffer_size:
                raise ValueError("packet is too large")
            return data

        if self.connected:
            if not await self._upgraded_from_polling(ws, websocket_wait):
                return
        else:
            self.connected = True
            self.upgraded = True

        writer_task = asyncio.ensure_future(self._write_until_closed(ws))
        server.logger.info("%s: Upgrade to websocket successful", self.sid)

        await self._read_until_closed(websocket_wait)

        await self.queue.put(None)  # unlock the writer task so it can exit
        await writer_task
        await self.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)

    async def _write_until_closed(self, ws: Any) -> None:
        """engine.io's writer task: what `poll` takes from the queue goes out, until the connection ends."""
        while True:
            try:
                packets = await self.poll()
            except exceptions.QueueEmpty:
                break
            if not packets:  # the connection is closing
                break
            try:
                for pkt in packets:
                    await ws.send(pkt.encode())
            except BaseException:  # cancelled included, as engine.io's bare except: the websocket is closed below
                break
        await ws.close()

    async def _read_until_closed(self, websocket_wait: Any) -> None:
        server = self.server
        silence = SilenceWatch(server.ping_interval + server.ping_timeout)
        try:
            while True:
                silence.waiting()
                try:
                    encoded = await websocket_wait()
                except asyncio.CancelledError:
                    break  # timed out, or as engine.io's reader: the connection ends, cleanly
                except Exception:  # disconnected, too large
                    break
                silence.handling()
                if encoded is None:  # connection closed by the client
                    break
                try:
                    await self.receive(eio_packet.Packet(encoded_packet=encoded))
                except exceptions.UnknownPacketError:
                    pass
                except exceptions.SocketIsClosedError:
                    server.logger.info("Receive error -- socket is closed")
                    break
                except asyncio.CancelledError:
                    break  # the server is shutting down: the connection ends, cleanly, as below
                except Exception:  # logged, and the reading goes on, as in engine.io
                    server.logger.exception("Unknown receive error")
        finally:
            silence.stop()

    async def _upgraded_from_polling(self, ws: Any, websocket_wait: Any) -> bool:
        """engine.io's upgrade of a long-polling connection: PING probe, PONG probe, then UPGRADE."""
        server = self.server
        self.upgrading = True  # hold packet sends during the upgrade
        try:
            encoded = await websocket_wait()
        except OSError:
            return False
        probe = eio_packet.Packet(encoded_packet=encoded)
        if probe.packet_type != eio_packet.PING or probe.data != "probe":
            server.logger.info("%s: Failed websocket upgrade, no PING packet", self.sid)
            self.upgrading = False
            return False
        await ws.send(eio_packet.Packet(eio_packet.PONG, data="probe").encode())
        await self.queue.put(eio_packet.Packet(eio_packet.NOOP))  # end poll
        try:
            encoded = await websocket_wait()
        except OSError:
            self.upgrading = False
            return False
        upgrade = eio_packet.Packet(encoded_packet=encoded)
        if upgrade.packet_type != eio_packet.UPGRADE:
            self.upgraded = False
            server.logger.info(
                "%s: Failed websocket upgrade, expected UPGRADE packet, received %s instead.", self.sid, encoded
            )
            self.upgrading = False
            return False
        self.upgraded = True
        self.upgrading = False
        return True


class SilenceWatch:
    """Cancels the reading task once one wait for a frame has lasted `limit_s`, with one timer per `limit_s`.

    The same bound as a timeout around each wait (engine.io's `wait_for`), without a timer made and cancelled
    per frame: the timer stays armed and, when it fires early, re-arms itself for the current wait's end. Time
    spent handling a frame does not count.
    """

    __slots__ = ("_fired", "_limit_s", "_loop", "_task", "_timer", "_wait_started")

    def __init__(self, limit_s: float) -> None:
        self._limit_s = limit_s
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("SilenceWatch watches the task that reads; there is none")
        self._task = task
        self._wait_started: float | None = None  # None while a frame is being handled
        self._fired = False
        self._timer = self._loop.call_at(self._loop.time() + limit_s, self._check)

    def waiting(self) -> None:
        self._wait_started = self._loop.time()

    def handling(self) -> None:
        self._wait_started = None

    def _check(self) -> None:
        started = self._wait_started
        now = self._loop.time()
        if started is not None and now - started >= self._limit_s:
            self._fired = True
            self._task.cancel()
            return
        self._timer = self._loop.call_at((started if started is not None else now) + self._limit_s, self._check)

    def stop(self) -> None:
        """Disarm, and undo the cancellation this watch made (not one from elsewhere), however the wait ended."""
        self._timer.cancel()
        if self._fired:
            self._fired = False
            self._task.uncancel()
