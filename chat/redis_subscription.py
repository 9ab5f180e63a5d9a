"""The chat's pub/sub listener: payloads published to one channel, read on a lean connection.

Every instance reads every message any instance publishes. Through redis-py's `PubSub.listen()` each one cost
about 55 µs of CPU when messages arrive one by one and 6 µs in bursts (a parse through its connection layers,
a dict per message, the async generator around `get_message`); on chat/resp_connection.py, 31 and 1 µs
(`bench/chat/redis_cost.py`).

A subscription is one connection: when it is lost, iterating raises redis-py's `ConnectionError` and the
owner subscribes again (messages published meanwhile are gone, as with any Redis pub/sub subscriber).
"""

from __future__ import annotations

from redis import exceptions as redis_errors

from chat.redis_address import RedisAddress
from chat.resp_connection import RespConnection, replies_within


class RedisSubscription:
    def __init__(self, connection: RespConnection) -> None:
        self._connection = connection

    @classmethod
    async def open(
        cls, address: RedisAddress, channel: str, *, connect_timeout_s: float, reply_timeout_s: float
    ) -> RedisSubscription:
        """Connected and subscribed: every message published to `channel` from now on is read."""
        connection = await address.connect(
            connect_timeout_s=connect_timeout_s, reply_timeout_s=reply_timeout_s, subscriber=True
        )
        try:
            [reply] = await replies_within(connection, connection.request([("SUBSCRIBE", channel)]), reply_timeout_s)
            if isinstance(reply, redis_errors.ResponseError):
                raise reply
        except BaseException:
            connection.close()
            raise
        return cls(connection)

    def __aiter__(self) -> RedisSubscription:
        return self

    async def __anext__(self) -> bytes:
        return await self._connection.next_message()

    def close(self) -> None:
        self._connection.close()
