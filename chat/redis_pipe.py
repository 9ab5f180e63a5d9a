"""The chat's per-message writes: batches of commands on one lean connection (chat/resp_connection.py).

Every chat message is one RPUSH, LTRIM and PUBLISH. Through redis-py's asyncio pipeline those three cost about
140 µs of CPU (a pool checkout, command objects, each reply parsed through its connection layers); written once
per batch on the lean connection they cost about 55 µs (`bench/chat/redis_cost.py`). The rest of the chat's
commands (history reads, presence, heartbeats) stay on redis-py: they run per join, not per message.

The connection opens on first use and again after it is lost. A batch is never re-sent: when the connection
drops after it was written, Redis may have applied it, and the caller hears a `ConnectionError` rather than
risk a duplicate.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import Sequence
from typing import Any

from redis import exceptions as redis_errors

from chat.redis_address import RedisAddress
from chat.resp_connection import Command, RespConnection

__all__ = ["Command", "RedisPipe", "first_error", "raise_first_error"]


def first_error(replies: list[Any]) -> redis_errors.ResponseError | None:
    """The first error reply among `replies`, if any."""
    return next((reply for reply in replies if isinstance(reply, redis_errors.ResponseError)), None)


def raise_first_error(replies: list[Any]) -> None:
    if (error := first_error(replies)) is not None:
        raise error


def _forward(replies: asyncio.Future[list[Any]], to: asyncio.Future[list[Any]]) -> None:
    """Hand `replies`' outcome on to `to` (a batch submitted while connecting), once it has one."""

    def forward(done: asyncio.Future[list[Any]]) -> None:
        if done.cancelled():
            if not to.done():
                to.cancel()
            return
        error = done.exception()  # retrieved, whether or not anyone still waits on `to`
        if to.done():
            return
        if error is not None:
            to.set_exception(error)
        else:
            to.set_result(done.result())

    replies.add_done_callback(forward)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # nobody waits for it any more: nothing to report


class RedisPipe:
    def __init__(
        self, url: str, *, password: str | None = None, connect_timeout_s: float = 2.0, reply_timeout_s: float = 5.0
    ) -> None:
        self.address = RedisAddress.from_url(url, password=password)
        self.connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self._connection: RespConnection | None = None
        self._connecting: asyncio.Task[None] | None = None
        # Batches submitted while a connection is being opened, in order: written first, once it is open.
        self._waiting: deque[tuple[Sequence[Command], asyncio.Future[list[Any]]]] = deque()
        self._closed = False

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send `commands` in one write and return their replies; the first error reply is raised."""
        if not commands:
            return []
        submitted = self.submit(commands)
        try:
            # Shielded: a cancelled caller leaves its batch's replies to be taken when they come.
            replies = await asyncio.shield(submitted)
        except asyncio.CancelledError:
            submitted.add_done_callback(_retrieve)
            raise
        raise_first_error(replies)
        return replies

    def submit(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Write `commands` in one batch, now when connected, else once connected; the future gets their replies.

        Error replies are among the replies, not raised (`raise_first_error`). Batches are written in the order
        they are submitted, also across a reconnect. Without a coroutine in between, the future's callbacks run
        in the loop turn after Redis's reply is read: for the per-message path, where every turn is latency once
        the loop is busy. A command that cannot be encoded raises here when connected; while connecting, its
        future gets the error.
        """
        connection = self._connection
        if connection is not None and connection.lost is None and not self._waiting and not self._closed:
            return self._request(connection, commands)
        loop = asyncio.get_running_loop()
        submitted: asyncio.Future[list[Any]] = loop.create_future()
        if self._closed:
            submitted.set_exception(redis_errors.ConnectionError("the Redis write connection is closed"))
            return submitted
        self._waiting.append((commands, submitted))
        if self._connecting is None:
            self._connecting = loop.create_task(self._connect_then_write_waiting())
        return submitted

    def _request(self, connection: RespConnection, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        replies = connection.request(commands)
        # No reply in time: the connection is dropped (later replies would come out of step) and fails the batch.
        timer = asyncio.get_running_loop().call_later(
            self.reply_timeout_s,
            connection.fail,
            redis_errors.TimeoutError(f"no reply from Redis within {self.reply_timeout_s}s"),
        )
        replies.add_done_callback(lambda _: timer.cancel())
        return replies

    async def _connect_then_write_waiting(self) -> None:
        try:
            connection = await self.address.connect(
                connect_timeout_s=self.connect_timeout_s, reply_timeout_s=self.reply_timeout_s
            )
        except asyncio.CancelledError:  # closed while connecting
            self._connecting = None
            self._fail_waiting(redis_errors.ConnectionError("the Redis write connection is closed"))
            raise
        except Exception as error:
            self._connecting = None
            self._fail_waiting(error)
            return
        self._connecting = None
        if self._closed:
            connection.close()
            self._fail_waiting(redis_errors.ConnectionError("the Redis write connection is closed"))
            return
        self._connection = connection
        # In one step, so no batch submitted from now on can be written before these.
        while self._waiting:
            commands, submitted = self._waiting.popleft()
            if submitted.cancelled():  # its caller gave up before it was written: nothing of it reaches Redis
                continue
            try:
                _forward(self._request(connection, commands), submitted)
            except Exception as error:  # a command that cannot be encoded: nothing of it was written
                submitted.set_exception(error)

    def _fail_waiting(self, error: Exception) -> None:
        while self._waiting:
            _, submitted = self._waiting.popleft()
            if not submitted.done():
                submitted.set_exception(copy.copy(error))  # one instance each: tracebacks are not shared

    async def aclose(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        self._fail_waiting(redis_errors.ConnectionError("the Redis write connection is closed"))
        if self._connection is not None:
            self._connection.close()
            self._connection = None
