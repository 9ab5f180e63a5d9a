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
from collections.abc import Sequence
from typing import Any

from redis import exceptions as redis_errors

from chat.redis_address import RedisAddress
from chat.resp_connection import Command, RespConnection

__all__ = ["Command", "RedisPipe", "raise_first_error"]


def raise_first_error(replies: list[Any]) -> None:
    """Raise the first error reply of a batch (a `ResponseError`), if any."""
    for reply in replies:
        if isinstance(reply, redis_errors.ResponseError):
            raise reply


class RedisPipe:
    def __init__(
        self, url: str, *, password: str | None = None, connect_timeout_s: float = 2.0, reply_timeout_s: float = 5.0
    ) -> None:
        self.address = RedisAddress.from_url(url, password=password)
        self.connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self._connection: RespConnection | None = None
        self._connecting: asyncio.Task[RespConnection] | None = None
        self._closed = False

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send `commands` in one write and return their replies; the first error reply is raised."""
        if not commands:
            return []
        # Shielded: a cancelled caller leaves its batch's replies to be taken when they come.
        replies = await asyncio.shield(self.submit(commands))
        raise_first_error(replies)
        return replies

    def submit(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """Write `commands` in one batch, now when connected, else once connected; the future gets their replies.

        Error replies are among the replies, not raised (`raise_first_error`). Without a coroutine in between,
        the future's callbacks run in the loop turn after Redis's reply is read: for the per-message path, where
        every turn is latency once the loop is busy.
        """
        connection = self._connection
        if self._closed or connection is None or connection.lost is not None:
            return asyncio.ensure_future(self._submitted_once_connected(commands))
        return self._request(connection, commands)

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

    async def _submitted_once_connected(self, commands: Sequence[Command]) -> list[Any]:
        if self._closed:
            raise redis_errors.ConnectionError("the Redis write connection is closed")
        connection = await self._connected()
        return await asyncio.shield(self._request(connection, commands))

    async def aclose(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def _connected(self) -> RespConnection:
        # Callers arriving while a connection is being opened wait for that one instead of opening their own.
        if self._connecting is None:
            connecting = asyncio.get_running_loop().create_task(self._connect())
            connecting.add_done_callback(self._connect_finished)
            self._connecting = connecting
        # Shielded: a cancelled caller must not cancel the connection the others wait for.
        return await asyncio.shield(self._connecting)

    async def _connect(self) -> RespConnection:
        connection = await self.address.connect(
            connect_timeout_s=self.connect_timeout_s, reply_timeout_s=self.reply_timeout_s
        )
        if self._closed:  # closed while connecting
            connection.close()
            raise redis_errors.ConnectionError("the Redis write connection is closed")
        self._connection = connection
        return connection

    def _connect_finished(self, connecting: asyncio.Task[RespConnection]) -> None:
        # Runs before the waiting callers resume, so a failed attempt is never handed to a later caller.
        if self._connecting is connecting:
            self._connecting = None
        if not connecting.cancelled():
            connecting.exception()  # retrieved: its callers re-raise it, and with none there is nothing to report
