"""An ASGI guard in front of engine.io: a websocket text frame that is not an engine.io packet ends its connection.

Why: python-engineio 4.x decodes websocket frames outside its error handling. One malformed frame (empty,
or not starting with a packet type) kills that connection's reader but leaves its session registered: it
counts as connected (inflating the ConnectedClients metric) and a server-side disconnect of it never returns,
until the ping timeout reaps it. Ending the connection cleanly is what the protocol asks for anyway.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from chat.web import ASGIApp, Receive, Scope, Send

# Engine.io v4 packet types 0-6 (open, close, ping, pong, message, upgrade, noop). Over websocket, binary
# data travels in binary frames, never as base64 text, so nothing else may start a text frame.
ENGINEIO_PACKET_TYPES = frozenset("0123456")


def is_engineio_text_frame(text: str) -> bool:
    return len(text) > 0 and text[0] in ENGINEIO_PACKET_TYPES


class FrameGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return

        async def guarded_receive() -> MutableMapping[str, Any]:
            event = await receive()
            text = event.get("text")
            if event["type"] == "websocket.receive" and isinstance(text, str) and not is_engineio_text_frame(text):
                # Engine.io sees the peer leave: it unregisters the session and closes the websocket itself.
                return {"type": "websocket.disconnect", "code": 1008}
            return event

        await self.app(scope, guarded_receive, send)
