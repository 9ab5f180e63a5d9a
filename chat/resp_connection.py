"""One Redis connection on an asyncio Protocol, parsed by hiredis: what the chat's hot paths share.

The chat writes every message (chat/redis_pipe.py) and reads every other instance's (chat/redis_subscription.py)
through this rather than redis-py's connection classes, which cost several times the CPU per command
(`bench/chat/redis_cost.py`). Only what those two need: RESP2, commands written in batches, replies matched to
batches first-in first-out (Redis answers one connection's commands in order), and the pub/sub messages of a
subscribed connection kept apart. Opening one (address, TLS, AUTH, SELECT) is chat/redis_address.py's job.
Every error is a redis-py `RedisError` (error replies are `ResponseError`s), so callers keep catching that.
"""

from __future__ import annotations

import asyncio
import copy
import socket
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import hiredis
from redis import exceptions as redis_errors

Command = Sequence[str | bytes | int | float]
MESSAGE = b"message"
# TCP keepalive as redis-py 8.1 sets it on its connections (its `_defaults.py`): a peer gone without a word
# (a replaced node, a blackholed path) is noticed within about 45 s, which matters most to a subscriber,
# which otherwise waits for a message for ever.
KEEPALIVE_IDLE_S = 30
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_PROBES = 3
# A subscriber whose consumer falls behind stops reading here; Redis holds the rest (up to its pub/sub
# output buffer limit, after which it drops the connection and the subscriber reconnects).
PAUSE_READING_AT = 10_000


def set_keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
    ):
        if hasattr(socket, option):  # Linux has all three; other systems may lack some
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


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
        self.reader = hiredis.Reader(replyError=redis_errors.ResponseError, encoding=None if subscriber else "utf-8")
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
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            set_keepalive(sock)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if self.subscriber and type(reply) is list and reply[0] == MESSAGE:
                self.messages.append(reply[2])  # [b"message", channel, payload]
                continue
            if not self.pending:  # nobody asked (Redis refusing a client, say): out of step, drop the connection
                self.fail(redis_errors.ConnectionError(f"unexpected reply from Redis: {reply!r:.200}"))
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
        self._give_up(redis_errors.ConnectionError(f"connection to Redis lost{reason}"))

    def request(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Write `commands` at once; the future gets their replies (error replies among them, not raised)."""
        if not commands:
            raise ValueError("a batch needs at least one command")  # it would wait for no reply, for ever
        data = pack(commands)  # first: a command hiredis cannot encode must leave no batch waiting for a reply
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        if self.lost is not None:
            future.set_exception(copy.copy(self.lost))
            return future
        if self.transport is None:
            raise RuntimeError("request before the connection was made")
        self.pending.append(_Batch(len(commands), future))
        self.transport.write(data)
        return future

    async def next_message(self) -> bytes:
        """The oldest message not yet taken, waiting for one; the connection's error once it is lost and drained.

        One consumer at a time (a subscription has one listener).
        """
        while not self.messages:
            if self.lost is not None:
                raise copy.copy(self.lost)
            if self._message_waiter is not None:
                raise RuntimeError("a subscription has one consumer at a time")
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
                batch.future.set_exception(copy.copy(error))  # one instance each: tracebacks are not shared
        self._wake_message_waiter()

    def _wake_message_waiter(self) -> None:
        if self._message_waiter is not None and not self._message_waiter.done():
            self._message_waiter.set_result(None)


async def replies_within(connection: RespConnection, future: asyncio.Future[list[Any]], timeout_s: float) -> list[Any]:
    """`future`'s replies; after `timeout_s` the connection is dropped (its replies would come out of step)."""
    timer = asyncio.get_running_loop().call_later(
        timeout_s, connection.fail, redis_errors.TimeoutError(f"no reply from Redis within {timeout_s}s")
    )
    try:
        # A cancelled caller leaves its batch in the queue (its replies are still owed, and taken when they
        # come); shielded so that the batch's future is not cancelled with it, which is all the same tidier.
        return await asyncio.shield(future)
    finally:
        timer.cancel()
