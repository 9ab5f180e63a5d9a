"""One lean Redis connection for the chat's per-message writes: batches of commands, one write, replies in order.

Every chat message is one RPUSH, LTRIM and PUBLISH. Through redis-py's asyncio pipeline those three cost about
130 µs of CPU (a pool checkout, command objects, each reply parsed through its connection layers); the same
bytes on an asyncio Protocol with hiredis's C parser cost about 45 µs (`bench/chat/redis_write_cost.py`). The
rest of the chat (history reads, presence, heartbeats) stays on redis-py: it runs per join, not per message.

Only what those writes need: one connection opened on first use and again after it is lost, RESP2, AUTH and
SELECT from the URL and password, TLS for `rediss://`, unix sockets. Errors are redis-py's exception classes,
so callers keep catching `RedisError`. A batch is never re-sent: when the connection drops after it was
written, Redis may have applied it, and the caller hears a `ConnectionError` rather than risk a duplicate.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import hiredis
from redis.connection import SSLConnection, parse_url
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError, TimeoutError

Command = Sequence[str | bytes | int | float]


def _pack(commands: Sequence[Command]) -> bytes:
    # hiredis's stub types the argument as a 1-tuple; it takes a command's arguments of any number.
    return b"".join(hiredis.pack_command(tuple(command)) for command in commands)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Batch:
    """Replies owed to one `execute` call, in the order its commands were written."""

    expected: int
    future: asyncio.Future[list[Any]]
    replies: list[Any] = field(default_factory=list)


class _RespProtocol(asyncio.Protocol):
    """Matches replies to batches first-in, first-out, as Redis answers one connection's commands in order."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError, encoding="utf-8")
        self.pending: deque[_Batch] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without deriving from it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        pending = self.pending
        while (reply := self.reader.gets()) is not False:
            if not pending:  # a reply nobody asked for: the stream is out of step, drop the connection
                self.fail(ConnectionError("unexpected reply from Redis"))
                return
            batch = pending[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.expected:
                pending.popleft()
                if not batch.future.done():
                    batch.future.set_result(batch.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        reason = f": {exc}" if exc else ""
        self._fail_pending(ConnectionError(f"connection to Redis lost{reason}"))

    def send(self, payload: bytes, expected: int) -> asyncio.Future[list[Any]]:
        assert self.transport is not None
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self.pending.append(_Batch(expected, future))
        self.transport.write(payload)
        return future

    def fail(self, error: Exception) -> None:
        """Give up on this connection: later replies could no longer be told apart."""
        self.lost = True
        self._fail_pending(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail_pending(self, error: Exception) -> None:
        while self.pending:
            batch = self.pending.popleft()
            if not batch.future.done():
                batch.future.set_exception(error)


class RedisPipe:
    def __init__(
        self, url: str, *, password: str | None = None, connect_timeout_s: float = 2.0, reply_timeout_s: float = 5.0
    ) -> None:
        options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]  # redis-py's own URL rules
        self._host = str(options.get("host", "localhost"))
        self._port = int(options.get("port", 6379))
        self._path: str | None = options.get("path")
        self._tls = options.get("connection_class") is SSLConnection
        self._username: str | None = options.get("username")
        self._password = password if password is not None else options.get("password")
        self._db = int(options.get("db", 0))
        self.connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self._protocol: _RespProtocol | None = None
        self._connecting: asyncio.Task[_RespProtocol] | None = None

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send `commands` in one write and return their replies; the first error reply is raised."""
        if not commands:
            return []
        protocol = self._protocol
        if protocol is None or protocol.lost:
            protocol = await self._connected()
        replies = await self._await_replies(protocol, protocol.send(_pack(commands), len(commands)))
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
        return replies

    async def aclose(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    async def _await_replies(self, protocol: _RespProtocol, future: asyncio.Future[list[Any]]) -> list[Any]:
        timer = asyncio.get_running_loop().call_later(
            self.reply_timeout_s,
            protocol.fail,
            TimeoutError(f"no reply from Redis within {self.reply_timeout_s}s"),
        )
        try:
            # Shielded: a cancelled caller must not cancel the future, whose reply is still owed and matched.
            return await asyncio.shield(future)
        finally:
            timer.cancel()

    async def _connected(self) -> _RespProtocol:
        # Callers arriving while a connection is being opened wait for that one instead of opening their own.
        if self._connecting is None:
            connecting = asyncio.get_running_loop().create_task(self._connect())
            connecting.add_done_callback(self._connect_finished)
            self._connecting = connecting
        # Shielded: a cancelled caller must not cancel the connection the others wait for.
        return await asyncio.shield(self._connecting)

    def _connect_finished(self, connecting: asyncio.Task[_RespProtocol]) -> None:
        # Runs before the waiting callers resume, so a failed attempt is never handed to a later caller.
        if self._connecting is connecting:
            self._connecting = None
        if not connecting.cancelled():
            connecting.exception()  # retrieved: its callers re-raise it, and with none there is nothing to report

    async def _connect(self) -> _RespProtocol:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                if self._path is not None:
                    _, protocol = await loop.create_unix_connection(_RespProtocol, self._path)
                else:
                    context = ssl.create_default_context() if self._tls else None
                    _, protocol = await loop.create_connection(_RespProtocol, self._host, self._port, ssl=context)
        except (OSError, TimeoutError) as exc:
            where = self._path or f"{self._host}:{self._port}"
            raise ConnectionError(f"cannot connect to Redis at {where}: {exc or type(exc).__name__}") from exc
        await self._handshake(protocol)
        self._protocol = protocol
        return protocol

    async def _handshake(self, protocol: _RespProtocol) -> None:
        commands: list[Command] = []
        if self._password is not None:
            auth = ("AUTH", self._username, self._password) if self._username else ("AUTH", self._password)
            commands.append(auth)
        if self._db:
            commands.append(("SELECT", self._db))
        if not commands:
            return
        replies = await self._await_replies(protocol, protocol.send(_pack(commands), len(commands)))
        errors = [reply for reply in replies if isinstance(reply, ResponseError)]
        if errors:
            protocol.fail(ConnectionError("handshake refused"))
            if self._password is not None and isinstance(replies[0], ResponseError):
                raise AuthenticationError(str(replies[0]))
            raise errors[0]
