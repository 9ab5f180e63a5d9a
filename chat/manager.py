"""The socket.io client manager: python-socketio's `AsyncRedisManager`, with a leaner room broadcast.

Everything else (rooms, the pub/sub listener, its reconnects, disconnects across instances) is the stock
manager's. Two things change:

1. Delivering a room event to this instance's members encodes the packet once and hands it to each member's
   engine.io socket in turn. The stock manager creates an asyncio task per recipient and waits for them all,
   and does so inside the pub/sub listener, which handles one message at a time: per message, a task per
   recipient and at least two event-loop turns before the listener reads the next one. Handing a packet to a
   socket writes the frame (chat/transport.py) or queues it; it waits only while a member's transport is
   paused for backpressure, which holds up this message's later members, in order, not the others' order.
2. `room_emit` gives the caller the pub/sub payload instead of publishing it, so the chat publishes a message
   in the same Redis round trip as it appends it to the history (`ChatStore.append_history`): one round trip
   per message instead of two, and delivery here waits for Redis to have taken both (when it cannot be
   reached, nobody gets the message and the sender hears `unavailable`).

Instances running the stock manager read what this one publishes and the other way round: the payload is the
stock `emit` message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import socketio
from engineio import packet as eio_packet
from engineio.exceptions import EngineIOError
from socketio import packet as sio_packet

logger = logging.getLogger("chat.manager")


@dataclass(frozen=True, slots=True)
class RoomEmit:
    """One event for a room on every instance: `payload` goes to `channel`, `message` is delivered here."""

    channel: str
    payload: str
    message: dict[str, Any]


class ChatManager(socketio.AsyncRedisManager):  # type: ignore[misc]  # python-socketio ships no type hints
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
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[message["event"], *arguments])
        packet = eio_packet.Packet(eio_packet.MESSAGE, encoded.encode())
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
