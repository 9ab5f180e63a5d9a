"""Real socket.io clients for the demo's chat tier, on an asyncio loop in a thread of their own.

Each is a python-socketio ``AsyncClient`` over a websocket to one chat instance on 127.0.0.1: it
connects, holds its connection (the instance counts it in ConnectedClients) and disconnects when
the demo's chat demand falls. The demo's synchronous minute loop calls ``resize``/``drop`` and
waits for them; the loop thread never blocks the demo in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import socketio

CONNECT_TIMEOUT_S = 5.0
# Connects in flight at once: a flash crowd arrives within the minute without opening hundreds of
# handshakes in the same instant on a 2-core machine.
MAX_CONCURRENT = 32
CALL_TIMEOUT_S = 60.0

T = TypeVar("T")


@dataclass
class _Client:
    instance: str
    sio: Any  # socketio.AsyncClient (untyped)


@dataclass(frozen=True)
class ResizeReport:
    connected: int
    disconnected: int
    failed: list[str]  # why connects failed
    counts: dict[str, int]  # connected clients per instance afterwards


class ClientPool:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chat-clients", daemon=True)
        self._clients: list[_Client] = []  # touched only on the loop's thread
        self._started = False

    def start(self) -> None:
        self._thread.start()
        self._started = True

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT_S)

    def counts(self) -> dict[str, int]:
        """Connected clients per instance."""
        return self._call(self._counts())

    async def _counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for client in self._clients:
            if client.sio.connected:
                counts[client.instance] = counts.get(client.instance, 0) + 1
        return counts

    def resize(self, changes: Mapping[str, int], urls: Mapping[str, str]) -> ResizeReport:
        """Connect (> 0) or disconnect (< 0) clients per instance name; ``urls`` locates instances."""
        return self._call(self._resize(dict(changes), dict(urls)))

    def drop(self, instance: str) -> int:
        """Close every connection to ``instance`` (the load balancer deregisters it); returns how many."""
        return self._call(self._drop(instance))

    def close(self) -> None:
        if not self._started:
            return
        with contextlib.suppress(TimeoutError, RuntimeError):
            self._call(self._disconnect(list(self._clients)))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()
        self._started = False

    async def _resize(self, changes: dict[str, int], urls: dict[str, str]) -> ResizeReport:
        await self._forget_closed()
        leaving: list[_Client] = []
        for instance, delta in changes.items():
            if delta < 0:
                leaving += [client for client in self._clients if client.instance == instance][:-delta]
        await self._disconnect(leaving)
        gate = asyncio.Semaphore(MAX_CONCURRENT)
        arrivals = [
            self._connect(instance, urls[instance], gate)
            for instance, delta in changes.items()
            for _ in range(max(0, delta))
        ]
        outcomes = await asyncio.gather(*arrivals)
        failed = [outcome for outcome in outcomes if outcome is not None]
        return ResizeReport(
            connected=len(outcomes) - len(failed),
            disconnected=len(leaving),
            failed=failed,
            counts=await self._counts(),
        )

    async def _connect(self, instance: str, url: str, gate: asyncio.Semaphore) -> str | None:
        # reconnection=False: when an instance goes away the demo's load balancer (resize) places
        # the client again, as a browser would reconnect through the ALB to a healthy task.
        sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        async with gate:
            try:
                await sio.connect(url, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S)
            except (socketio.exceptions.ConnectionError, OSError, TimeoutError) as exc:
                with contextlib.suppress(Exception):
                    await sio.disconnect()
                return f"{instance}: {type(exc).__name__}: {exc}"
        self._clients.append(_Client(instance, sio))
        return None

    async def _drop(self, instance: str) -> int:
        leaving = [client for client in self._clients if client.instance == instance]
        await self._disconnect(leaving)
        return len(leaving)

    async def _disconnect(self, clients: list[_Client]) -> None:
        gone = {id(client) for client in clients}
        self._clients = [client for client in self._clients if id(client) not in gone]
        # return_exceptions: a connection the server already closed has nothing left to close.
        await asyncio.gather(*(client.sio.disconnect() for client in clients), return_exceptions=True)

    async def _forget_closed(self) -> None:
        """Clients the server closed (an instance that drained or died) are gone; resize replaces them."""
        await self._disconnect([client for client in self._clients if not client.sio.connected])
