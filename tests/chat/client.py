"""A real python-socketio client that records every event it receives, for assertions with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import socketio

EVENTS = ("welcome", "history", "presence", "message", "typing", "error", "draining")
WAIT_S = 5.0


class ChatClient:
    def __init__(self, url: str, *, reconnection: bool = False) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=reconnection)
        self.received: list[tuple[str, Any]] = []
        self._changed = asyncio.Event()
        for event in EVENTS:
            self.sio.on(event, self._recorder(event))
        self.sio.on("disconnect", self._recorder("disconnect"))

    def _recorder(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.received.append((event, args[0] if args else None))
            self._changed.set()

        return record

    async def connect(self, transport: str = "websocket") -> ChatClient:
        await self.sio.connect(self.url, transports=[transport], wait_timeout=WAIT_S)
        await self.wait_for("welcome")
        return self

    async def join(self, room: str, nick: str) -> dict[str, Any]:
        await self.sio.emit("join", {"room": room, "nick": nick})
        return await self.wait_for("history", lambda data: data["room"] == room)

    async def say(self, room: str, text: str) -> None:
        await self.sio.emit("message", {"room": room, "text": text})

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data)

    def events(self, name: str) -> list[Any]:
        return [data for event, data in self.received if event == name]

    async def wait_for(
        self, name: str, predicate: Callable[[Any], bool] = lambda _: True, timeout_s: float = WAIT_S
    ) -> Any:
        """The first `name` event (already received or still to come) that satisfies `predicate`."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            for event, data in self.received:
                if event == name and predicate(data):
                    return data
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {name!r} event matching within {timeout_s}s; got {self.received[-10:]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue

    async def wait_for_error(self, code: str) -> dict[str, Any]:
        return dict(await self.wait_for("error", lambda data: data["code"] == code))

    async def wait_for_presence(self, room: str, nicks: list[str], timeout_s: float = WAIT_S) -> None:
        await self.wait_for("presence", lambda data: data["room"] == room and data["nicks"] == nicks, timeout_s)

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()


@contextlib.asynccontextmanager
async def chat_clients(*urls: str, connect: bool = True) -> AsyncIterator[tuple[ChatClient, ...]]:
    """One client per url (connected over websocket unless `connect=False`), all closed afterwards, pass or fail."""
    clients = tuple(ChatClient(url) for url in urls)
    try:
        if connect:
            for client in clients:
                await client.connect()
        yield clients
    finally:
        for client in clients:
            await client.close()
