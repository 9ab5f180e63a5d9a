"""The socket.io client manager: python-socketio's `AsyncRedisManager`, with a leaner room broadcast and listener.

Everything else (rooms, dispatching what the pub/sub listener reads, disconnects across instances) is the
stock manager's. Three things change:

1. Delivering a room event to this instance's members encodes the packet once and hands it to each member's
   engine.io socket in turn. The stock manager creates an asyncio task per recipient and waits for them all,
   and does so inside the pub/sub listener, which handles one message at a time: per message, a task per
   recipient and at least two event-loop turns before the listener reads the next one. Handing a packet to a
   socket writes the frame (chat/transport.py) or queues it, and never waits: a member whose transport is
   paused for backpressure (a client that stopped reading) gets it queued, so nobody else waits for it.
2. `room_emit` gives the caller the pub/sub payload instead of publishing it, so the chat publishes a message
   in the same Redis round trip as it appends it to the history (`ChatStore.append_history`): one round trip
   per message instead of two, and delivery here waits for Redis to have taken both (when it cannot be
   reached, nobody gets the message and the sender hears `unavailable`).

3. The pub/sub listener reads on a lean connection (chat/redis_subscription.py) instead of redis-py's `PubSub`,
   and drops this instance's own room events before they are decoded (the stock listener decodes every
   message, then ignores its own): every instance reads every message any instance publishes. A lost
   subscription is renewed at once, then, while Redis cannot be reached, after 1, 2, 4 ... 60 s as the stock
   listener waits.

Instances running the stock manager read what this one publishes and the other way round: the payload is the
stock `emit` message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import socketio
from engineio import packet as eio_packet
from engineio.exceptions import EngineIOError
from socketio import packet as sio_packet

from chat.redis_address import RedisAddress
from chat.redis_subscription import RedisSubscription
from chat.websocket_frames import SharedFramePacket

logger = logging.getLogger("chat.manager")

# The stock listener's reconnect backoff (AsyncRedisManager._redis_listen_with_retries).
FIRST_RETRY_S = 1.0
LAST_RETRY_S = 60.0


@dataclass(frozen=True, slots=True)
class RoomEmit:
    """One event for a room on every instance: `payload` goes to `channel`, `message` is delivered here."""

    channel: str
    payload: str
    message: dict[str, Any]


class ChatManager(socketio.AsyncRedisManager):  # type: ignore[misc]  # python-socketio ships no type hints
    def __init__(
        self,
        url: str,
        *,
        channel: str = "socketio",
        redis_options: dict[str, Any] | None = None,
        reply_timeout_s: float = 5.0,
    ) -> None:
        redis_options = redis_options or {}
        super().__init__(url, channel=channel, redis_options=redis_options)
        self.redis_address = RedisAddress.from_url(url, password=redis_options.get("password"))
        self.connect_timeout_s = float(redis_options.get("socket_connect_timeout", 2.0))
        self.reply_timeout_s = reply_timeout_s
        # (JSON module, how its room events start, how this instance's end): the module is the server's, set later.
        self._own_emit_marks: tuple[Any, bytes, bytes] | None = None

    def is_own_emit(self, payload: bytes) -> bool:
        """Whether `payload` is a room event this instance published (the stock listener ignores those).

        Exact, not a guess: inside JSON strings every quote is escaped, so the text can end with a top-level
        `"host_id"` of this instance's id only when that is its host_id; callbacks, which the stock listener
        does handle when they carry this instance's id, are not `emit` messages.
        """
        marks = self._own_emit_marks
        if marks is None or marks[0] is not self.json:
            marks = self._own_emit_marks = self._marks_of(self.json)
        return payload.startswith(marks[1]) and payload.endswith(marks[2])

    def _marks_of(self, json: Any) -> tuple[Any, bytes, bytes]:
        # Spelled by the module room_emit encodes with: "method" is its first key and "host_id" its last.
        first = json.dumps({"method": "emit", "event": ""})
        last = json.dumps({"event": "", "host_id": self.host_id})
        return json, first[: first.index(",") + 1].encode(), last[last.index(",") :].encode()

    async def _listen(self) -> AsyncGenerator[bytes, None]:
        """What the other instances publish, for the stock `_thread` to decode and dispatch.

        Failures are the stock listener's: any error is logged, then the listener waits 1, 2, 4 ... 60 s
        (back to 1 once subscribed) and subscribes again.
        """
        retry_s = FIRST_RETRY_S
        while True:
            try:
                subscription = await RedisSubscription.open(
                    self.redis_address,
                    self.channel,
                    connect_timeout_s=self.connect_timeout_s,
                    reply_timeout_s=self.reply_timeout_s,
                )
                retry_s = FIRST_RETRY_S
                try:
                    async for payload in subscription:
                        if not self.is_own_emit(payload):
                            yield payload
                finally:
                    subscription.close()
            except Exception as exc:  # the listener's outer boundary: it must outlive any failure
                logger.error("cannot receive from redis, retrying", extra={"error": repr(exc), "retry_s": retry_s})
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, LAST_RETRY_S)

    def room_emit(self, event: str, data: Any, *, room: str, namespace: str = "/") -> RoomEmit:
        """The stock manager's `emit` message for `data` (JSON values only, no bytes) to `room`, encoded once."""
        message = {
            "method": "emit",
            "event": event,
            "data": [data],
            "binary": False,
            "namespace": namespace,
            "room": room,
            "skip_sid": None,
            "callback": None,
            "host_id": self.host_id,
        }
        return RoomEmit(channel=self.channel, payload=self.json.dumps(message), message=message)

    async def deliver_locally(self, emit: RoomEmit) -> None:
        await self._handle_emit(emit.message)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        """Deliver a pub/sub `emit` message to the members of its room on this instance."""
        if message.get("callback") is not None or message.get("binary"):
            # Acknowledged or binary events: the stock path (the chat sends neither).
            await super()._handle_emit(message)
            return
        namespace = message.get("namespace") or "/"
        if namespace not in self.rooms:  # nobody on this instance in that namespace
            return
        arguments = list(message["data"])
        if arguments == [None]:  # the stock manager sends `emit(event, None)` as an event without arguments
            arguments = []
        # binary=False spares a scan of the data: checked above, and room events carry JSON values only.
        encoded = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[message["event"], *arguments], binary=False
        )
        # One frame for all members (chat/websocket_frames.py).
        packet = SharedFramePacket(eio_packet.MESSAGE, encoded.encode())
        skip = message.get("skip_sid")
        skipped = skip if isinstance(skip, list) else [skip]
        send = self.server.eio.send_packet
        # get_participants iterates over a copy: a member leaving meanwhile cannot break the loop.
        for sid, eio_sid in self.get_participants(namespace, message.get("room")):
            if sid in skipped:
                continue
            try:
                await send(eio_sid, packet)
            except EngineIOError as exc:
                # A socket closing under our feet; the others still get the event (the stock manager's tasks
                # fail one by one too).
                logger.debug("event not delivered", extra={"sid": sid, "error": repr(exc)})
