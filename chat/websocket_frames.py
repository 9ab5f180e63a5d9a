"""Websocket frames written straight to uvicorn's transport, built once per packet.

Through ASGI, every frame to every member of a room takes engine.io's `WebSocket.send`, an ASGI message dict,
uvicorn's `send` (its state checks and an await) and the `websockets` protocol's serializer before it reaches
`transport.write`: per member, for the same bytes. Profiled under the chat benchmark, that was about a tenth
of an instance's busy time besides the write itself. Here a room message's frame is serialized once (by
`websockets`, as uvicorn's protocol would) and each member's connection writes it to its transport, under the
same conditions as uvicorn's own send of a text frame.

Only for uvicorn's websockets-sansio protocol (its default when `websockets` is installed) and a connection
without extensions (the chat turns per-message deflate off); anything else goes through ASGI as before.
"""

from __future__ import annotations

from typing import Any

from engineio import packet as eio_packet
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State


def text_frame(text: str) -> bytes:
    """A server's text frame for `text`: unmasked, unfragmented, no extensions (RFC 6455 section 5)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def _text_frame_for(pkt: eio_packet.Packet) -> bytes | None:
    encoded = pkt.encode()
    return text_frame(encoded) if isinstance(encoded, str) else None  # binary: uvicorn's own path


class SharedFramePacket(eio_packet.Packet):  # type: ignore[misc]  # engineio ships no type hints
    """An engine.io packet for many websockets: its frame is serialized on first use, then shared."""

    _frame: bytes | None = None

    def text_frame(self) -> bytes | None:
        if self._frame is None:
            self._frame = _text_frame_for(self)
        return self._frame


def text_frame_of(pkt: eio_packet.Packet) -> bytes | None:
    """The websocket frame carrying `pkt`, or None when it is binary."""
    return pkt.text_frame() if isinstance(pkt, SharedFramePacket) else _text_frame_for(pkt)


def server_protocol_of(ws: Any) -> Any:
    """The server's protocol object behind engine.io's ASGI websocket `ws`, or None.

    engine.io's `ws.asgi_send` is the server's ASGI `send`; uvicorn's is a method of its websocket protocol.
    """
    return getattr(getattr(ws, "asgi_send", None), "__self__", None)


class FrameWriter:
    """Writes whole text frames to one connection's transport, where uvicorn's send would write them."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def write(self, frame: bytes) -> bool:
        """Write `frame` now, or return False where uvicorn's send would not write a text frame.

        uvicorn writes data frames once the handshake is done and until it sent a close or lost the connection;
        `websockets` refuses them unless the connection is OPEN and not in the middle of a fragmented message.
        The caller has checked that the transport is writable (not paused).
        """
        protocol = self._protocol
        conn = protocol.conn
        if (
            not protocol.handshake_complete
            or protocol.close_sent
            or protocol.disconnected
            or protocol.initial_response is not None
            or conn.state is not State.OPEN
            or conn.expect_continuation_frame
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(frame)
        return True


def frame_writer_of(ws: Any) -> FrameWriter | None:
    """A frame writer for engine.io's ASGI websocket `ws`, or None unless uvicorn's sansio protocol serves it.

    Extensions are settled by the handshake, which engine.io has accepted before its handler gets `ws`.
    """
    protocol = server_protocol_of(ws)
    # Exactly uvicorn's class: a subclass may send differently.
    if type(protocol) is WebSocketsSansIOProtocol and not protocol.conn.extensions:
        return FrameWriter(protocol)
    return None
