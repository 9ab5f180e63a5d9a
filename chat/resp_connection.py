"""One Redis connection on an asyncio Protocol, parsed by hiredis: what the chat's hot paths share.

The chat writes every message (chat/redis_pipe.py) and reads every other instance's (chat/redis_subscription.py)
through this rather than redis-py's connection classes, which cost several times the CPU per command
(`bench/chat/redis_cost.py`). Only what those two need: RESP2, commands written in batches, replies matched to
batches first-in first-out (Redis answers one connection's commands in order), pub/sub messages of a
subscribed connection kept apart, AUTH and SELECT from the URL and settings, TLS for `rediss://` with the
system's trust store, unix sockets. Errors are redis-py's exception classes, so callers keep catching
`RedisError`.
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
MESSAGE = b"message"
# A subscriber whose consumer falls behind stops reading here; Redis holds the rest (up to its pub/sub
# output buffer limit, after which it drops the connection and the subscriber reconnects).
PAUSE_READING_AT = 10_000


def pack(commands: Sequence[Command]) -> bytes:
    # hiredis's stub types the argument as a 1-tuple; it takes a command's arguments of any number.
    return b"".join(hiredis.pack_command(tuple(command)) for command in commands)  # type: ignore[arg-type]


@dataclass(slots=True)
class _Batch:
    """Replies owed to one batch of commands, in the order they were written."""

    expected: int
    future: asyncio.Future[list[Any]]
    replies: list[Any] = field(default_factory=list)


class RespConnection(asyncio.Protocol):
    """Replies go to the oldest batch still owed some; on a subscribed connection, messages go to `messages`."""

    def __init__(self, *, subscriber: bool = False) -> None:
        # A subscriber's payloads stay bytes (the JSON decoder takes them as they are); replies are text.
        self.reader = hiredis.Reader(replyError=ResponseError, encoding=None if subscriber else "utf-8")
        self.subscriber = subscriber
        self.pending: deque[_Batch] = deque()
        self.messages: deque[bytes] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self._message_waiter: asyncio.Future[None] | None = None
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without deriving from it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if self.subscriber and type(reply) is list and reply[0] == MESSAGE:
                self.messages.append(reply[2])  # [b"message", channel, payload]
                continue
            if not self.pending:  # a reply nobody asked for: the stream is out of step, drop the connection
                self.fail(ConnectionError("unexpected reply from Redis"))
                return
            batch = self.pending[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.expected:
                self.pending.popleft()
                if not batch.future.done():
                    batch.future.set_result(batch.replies)
        if self.messages:
            self._wake_message_waiter()
            if len(self.messages) >= PAUSE_READING_AT and self.transport is not None and not self._paused:
                self._paused = True
                self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._give_up(ConnectionError(f"connection to Redis lost{reason}"))

    def request(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Write `commands` at once; the future gets their replies (error replies among them, not raised)."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if self.lost is not None:
            future.set_exception(self.lost)
            return future
        assert self.transport is not None
        self.pending.append(_Batch(len(commands), future))
        self.transport.write(pack(commands))
        return future

    async def next_message(self) -> bytes:
        """The oldest message not yet taken, waiting for one; the connection's error once it is lost and drained."""
        while not self.messages:
            if self.lost is not None:
                raise self.lost
            if self._paused and self.transport is not None:
                self._paused = False
                self.transport.resume_reading()
            self._message_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._message_waiter
            finally:
                self._message_waiter = None
        return self.messages.popleft()

    def fail(self, error: Exception) -> None:
        """Give up on this connection: later replies could no longer be told apart."""
        self._give_up(error)
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _give_up(self, error: Exception) -> None:
        if self.lost is None:
            self.lost = error
        while self.pending:
            batch = self.pending.popleft()
            if not batch.future.done():
                batch.future.set_exception(error)
        self._wake_message_waiter()

    def _wake_message_waiter(self) -> None:
        if self._message_waiter is not None and not self._message_waiter.done():
            self._message_waiter.set_result(None)


async def replies_within(connection: RespConnection, future: asyncio.Future[list[Any]], timeout_s: float) -> list[Any]:
    """`future`'s replies; after `timeout_s` the connection is dropped (its replies would come out of step)."""
    timer = asyncio.get_running_loop().call_later(
        timeout_s, connection.fail, TimeoutError(f"no reply from Redis within {timeout_s}s")
    )
    try:
        # Shielded: a cancelled caller must not cancel the future, whose reply is still owed and matched.
        return await asyncio.shield(future)
    finally:
        timer.cancel()


@dataclass(frozen=True)
class RedisAddress:
    """Where Redis is and how to be let in, from a `redis://`, `rediss://` or `unix://` URL."""

    host: str = "localhost"
    port: int = 6379
    path: str | None = None
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0

    @classmethod
    def from_url(cls, url: str, *, password: str | None = None) -> RedisAddress:
        """`password`, when given, wins over one in the URL (the chat's settings keep it out of the URL)."""
        options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]  # redis-py's own URL rules
        return cls(
            host=str(options.get("host", "localhost")),
            port=int(options.get("port", 6379)),
            path=options.get("path"),
            tls=options.get("connection_class") is SSLConnection,
            username=options.get("username"),
            password=password if password is not None else options.get("password"),
            db=int(options.get("db", 0)),
        )

    def __str__(self) -> str:
        return self.path or f"{self.host}:{self.port}"

    async def connect(
        self, *, connect_timeout_s: float, reply_timeout_s: float, subscriber: bool = False
    ) -> RespConnection:
        """A connection that has passed AUTH and SELECT; redis-py's ConnectionError when it cannot be had."""
        loop = asyncio.get_running_loop()

        def protocol() -> RespConnection:
            return RespConnection(subscriber=subscriber)

        try:
            async with asyncio.timeout(connect_timeout_s):
                if self.path is not None:
                    _, connection = await loop.create_unix_connection(protocol, self.path)
                else:
                    context = ssl.create_default_context() if self.tls else None
                    _, connection = await loop.create_connection(protocol, self.host, self.port, ssl=context)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"cannot connect to Redis at {self}: {exc or type(exc).__name__}") from exc
        try:
            await self._handshake(connection, reply_timeout_s)
        except BaseException:
            connection.fail(ConnectionError("handshake not completed"))
            raise
        return connection

    async def _handshake(self, connection: RespConnection, reply_timeout_s: float) -> None:
        commands: list[Command] = []
        if self.password is not None:
            commands.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        if not commands:
            return
        replies = await replies_within(connection, connection.request(commands), reply_timeout_s)
        if self.password is not None and isinstance(replies[0], ResponseError):
            raise AuthenticationError(str(replies[0]))
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
