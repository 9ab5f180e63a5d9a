"""What the chat instances share in Redis: each room's recent history and who is in each room.

Keys (prefix `chat` by default):
- `{prefix}:history:{room}`  LIST of JSON messages, the newest last, trimmed to `history_size`.
- `{prefix}:presence:{room}` HASH `{instance}|{sid}` -> nick, one field per connection in the room.
- `{prefix}:instances`       ZSET instance -> expiry (epoch seconds), refreshed by every instance's heartbeat.

Presence counts only the fields of instances whose expiry is in the future, so a task that died without
cleaning up (SIGKILL, lost host) drops out of every list within `presence_ttl_s`, and the survivors' janitor
deletes its fields. The heartbeat also re-writes each instance's own fields, so presence comes back by
itself after Redis restarts empty.
"""

from __future__ import annotations

import asyncio
import copy
import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from chat import json_codec
from chat.protocol import ChatMessage
from chat.redis_pipe import Command, RedisPipe, first_error

FIELD_SEPARATOR = "|"
# A message for a room's history and, optionally, (channel, payload) to PUBLISH with it.
HistoryAppend = tuple[ChatMessage, tuple[str, str] | None]


# One append of this turn's batch, with the future its caller waits on.
WaitingAppend = tuple[HistoryAppend, asyncio.Future[None]]


def _settle(waiting: list[tuple[asyncio.Future[None], int]], sent: asyncio.Future[list[Any]]) -> None:
    """Hand the outcome of a sent batch to the appends still waiting for it: each hears of its own commands."""
    if sent.cancelled():
        _finish([waiter for waiter, _ in waiting], RedisError("message batch cancelled"))
        return
    error = sent.exception()
    if error is not None:
        _finish([waiter for waiter, _ in waiting], error)
        return
    replies, start = sent.result(), 0
    for waiter, count in waiting:
        mine = replies[start : start + count]
        start += count
        _finish([waiter], first_error(mine))


def _finish(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for waiter in waiters:
        if waiter.done():  # its caller was cancelled meanwhile
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(copy.copy(error))  # one instance each: tracebacks are not shared


class ChatStore:
    def __init__(
        self,
        redis: Redis,
        writes: RedisPipe,
        *,
        instance_id: str,
        key_prefix: str,
        history_size: int,
        presence_ttl_s: float,
        clock: Callable[[], float],
    ) -> None:
        self.redis = redis
        # Each message's history append and publish go through the lean connection (chat/redis_pipe.py).
        self.writes = writes
        self.instance_id = instance_id
        self.prefix = key_prefix
        self.history_size = history_size
        self.presence_ttl_s = presence_ttl_s
        self.clock = clock
        # This turn's appends, sent together once the turn ends.
        self._open_batch: list[WaitingAppend] | None = None

    def _history_key(self, room: str) -> str:
        return f"{self.prefix}:history:{room}"

    def _presence_key(self, room: str) -> str:
        return f"{self.prefix}:presence:{room}"

    @property
    def _instances_key(self) -> str:
        return f"{self.prefix}:instances"

    def _field(self, sid: str) -> str:
        return f"{self.instance_id}{FIELD_SEPARATOR}{sid}"

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    async def append_history(self, message: ChatMessage, *, publish: tuple[str, str] | None = None) -> None:
        """Append `message` to its room's history and, in the same round trip, PUBLISH `publish` = (channel, payload).

        Either both reach Redis or the caller gets the RedisError (nothing half-done that it was not told of).
        Appends that arrive in the same turn of the event loop share one pipeline (node-redis pipelines commands
        of one tick the same way): under load, one write and one read for many messages instead of one each. The
        batch is written by a callback as the turn ends, and each caller waits on a future of its own that the
        reply settles: no task or shield per batch or message, and the callers resume two loop turns after Redis's
        reply is read (four or five through a task and shields; under load every turn is latency). A caller cancelled
        before its batch is submitted is left out of it (nothing of its message reaches Redis); one cancelled
        later leaves the others the batch's real outcome. Each caller hears of its own commands' replies: an
        error reply to one message's commands fails that message alone.
        """
        if self.history_size == 0 and publish is None:
            return
        loop = asyncio.get_running_loop()
        batch = self._open_batch
        if batch is None:
            batch = self._open_batch = []
            loop.call_soon(self._send_open_batch)
        waiter: asyncio.Future[None] = loop.create_future()
        batch.append(((message, publish), waiter))
        await waiter  # cancelling it cancels only this caller's wait

    def _send_open_batch(self) -> None:
        batch, self._open_batch = self._open_batch, None
        if batch is None:  # one callback per batch: cannot happen, but nothing to send if it did
            return
        commands: list[Command] = []
        waiting: list[tuple[asyncio.Future[None], int]] = []
        for append, waiter in batch:
            if waiter.cancelled():  # its caller gave up before the batch was submitted: left out
                continue
            own = self._commands_for(append)
            commands.extend(own)
            waiting.append((waiter, len(own)))
        if not waiting:
            return
        try:
            sent = self.writes.submit(commands)
        except Exception as error:  # a command that cannot be encoded: nothing was written
            _finish([waiter for waiter, _ in waiting], error)
            return
        sent.add_done_callback(functools.partial(_settle, waiting))

    def _commands_for(self, append: HistoryAppend) -> list[Command]:
        # No MULTI/EXEC: appends from several instances may interleave, and LTRIM keeps the newest N anyway.
        message, publish = append
        commands: list[Command] = []
        if self.history_size > 0:
            key = self._history_key(message["room"])
            commands.append(("RPUSH", key, json_codec.dumps(message)))
            commands.append(("LTRIM", key, -self.history_size, -1))
        if publish is not None:
            commands.append(("PUBLISH", *publish))
        return commands

    async def history(self, room: str) -> list[ChatMessage]:
        if self.history_size == 0:
            return []
        raw = cast(list[str], await self.redis.lrange(self._history_key(room), 0, -1))
        return [cast(ChatMessage, json_codec.loads(item)) for item in raw]

    async def set_presence(self, room: str, sid: str, nick: str) -> None:
        await self.redis.hset(self._presence_key(room), self._field(sid), nick)

    async def clear_presence(self, room: str, sid: str) -> None:
        await self.redis.hdel(self._presence_key(room), self._field(sid))

    async def presence(self, room: str) -> list[str]:
        """Distinct nicks in `room` over every live instance, sorted case-insensitively."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._presence_key(room))
            pipe.zrangebyscore(self._instances_key, self.clock(), "+inf")
            entries, alive_list = cast(tuple[dict[str, str], list[str]], tuple(await pipe.execute()))
        alive = {*alive_list, self.instance_id}
        nicks = {nick for field, nick in entries.items() if field.split(FIELD_SEPARATOR, 1)[0] in alive}
        return sorted(nicks, key=lambda nick: (nick.casefold(), nick))

    async def heartbeat(self, members: Mapping[str, Mapping[str, str]]) -> None:
        """Mark this instance alive and re-assert its connections (`members`: room -> sid -> nick)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._instances_key, {self.instance_id: self.clock() + self.presence_ttl_s})
            for room, sids in members.items():
                if sids:
                    pipe.hset(self._presence_key(room), mapping={self._field(sid): nick for sid, nick in sids.items()})
            await pipe.execute()

    async def reap_dead_instances(self, rooms: tuple[str, ...]) -> set[str]:
        """Delete the presence of instances whose heartbeat expired; returns the rooms that changed."""
        now = self.clock()
        dead = set(cast(list[str], await self.redis.zrangebyscore(self._instances_key, "-inf", now)))
        dead.discard(self.instance_id)
        if not dead:
            return set()
        changed: set[str] = set()
        for room in rooms:
            fields = cast(list[str], await self.redis.hkeys(self._presence_key(room)))
            stale = [field for field in fields if field.split(FIELD_SEPARATOR, 1)[0] in dead]
            if stale:
                await self.redis.hdel(self._presence_key(room), *stale)
                changed.add(room)
        # By score, not by name: an instance whose heartbeat landed meanwhile stays registered.
        await self.redis.zremrangebyscore(self._instances_key, "-inf", now)
        return changed

    async def withdraw(self, rooms: tuple[str, ...]) -> None:
        """Remove every trace of this instance (graceful shutdown)."""
        prefix = self.instance_id + FIELD_SEPARATOR
        for room in rooms:
            fields = cast(list[str], await self.redis.hkeys(self._presence_key(room)))
            mine = [field for field in fields if field.startswith(prefix)]
            if mine:
                await self.redis.hdel(self._presence_key(room), *mine)
        await self.redis.zrem(self._instances_key, self.instance_id)
