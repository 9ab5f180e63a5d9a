"""Bad input is refused with an `error` event to its sender, and nothing a client sends takes an instance down.

Given a client connected to a real instance, when it sends something the protocol does not allow,
then it alone gets `error {code, message, event}`, the room hears nothing, and the instance keeps serving.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from tests.chat.client import ChatClient
from tests.chat.harness import ChatInstance

Pair = tuple[ChatInstance, ChatInstance]


async def joined(url: str, room: str, nick: str) -> ChatClient:
    client = await ChatClient(url).connect()
    await client.join(room, nick)
    return client


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("join", {"room": "room-9", "nick": ""}, "bad_nick"),
        ("join", {"room": "room-9", "nick": "   "}, "bad_nick"),
        ("join", {"room": "room-9", "nick": "x" * 25}, "bad_nick"),
        ("join", {"room": "room-9", "nick": "bell\u0007"}, "bad_nick"),
        ("join", {"room": "room-9", "nick": "\u202eevil"}, "bad_nick"),
        ("join", {"room": "room-9", "nick": 42}, "bad_nick"),
        ("join", {"room": "no-such-room", "nick": "ana"}, "unknown_room"),
        ("join", {"room": "../../etc", "nick": "ana"}, "unknown_room"),
        ("join", "general", "bad_request"),
        ("join", None, "bad_request"),
        ("message", {"room": "room-9", "text": "x" * 1001}, "message_too_long"),
        ("message", {"room": "room-9", "text": "   \n "}, "empty_message"),
        ("message", {"room": "room-9", "text": ["not", "text"]}, "bad_request"),
        ("message", {"room": "room-9", "text": "nul\u0000byte"}, "bad_request"),
        ("message", {"room": "room-10", "text": "wrong room"}, "not_in_room"),
        ("message", {"room": "no-such-room", "text": "hi"}, "unknown_room"),
        ("message", [1, 2, 3], "bad_request"),
        ("typing", {"room": "room-9", "typing": "yes"}, "bad_request"),
        ("leave", {"room": "room-10"}, "not_in_room"),
        ("shout", {"room": "room-9"}, "bad_request"),
    ],
)
def test_refused_input_gets_an_error_event_and_reaches_nobody(pair: Pair, event: str, payload: Any, code: str) -> None:
    async def scenario() -> None:
        a, b = pair
        sender, listener = await joined(a.url, "room-9", "sender"), await joined(b.url, "room-9", "listener")
        try:
            await sender.emit(event, payload)

            error = await sender.wait_for_error(code)
            assert error["event"] == event
            assert error["message"]
            await sender.say("room-9", "still here")  # the connection survives its own bad input
            await listener.wait_for("message", lambda m: m["text"] == "still here")
            assert [m["text"] for m in listener.events("message")] == ["still here"]
            assert listener.events("error") == []
        finally:
            await sender.close()
            await listener.close()

    asyncio.run(scenario())


def test_a_message_before_joining_is_refused(pair: Pair) -> None:
    async def scenario() -> None:
        client = await ChatClient(pair[0].url).connect()
        try:
            await client.say("room-11", "anyone?")
            await client.wait_for_error("not_joined")
        finally:
            await client.close()

    asyncio.run(scenario())


def test_html_is_delivered_escaped_to_every_client(pair: Pair) -> None:
    async def scenario() -> None:
        a, b = pair
        sender, listener = await joined(a.url, "room-12", "<b>mallory</b>"), await joined(b.url, "room-12", "bob")
        try:
            await sender.say("room-12", '<img src=x onerror="alert(1)"> & <script>alert(2)</script>')

            message = await listener.wait_for("message")
            assert message["text"] == (
                "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;script&gt;alert(2)&lt;/script&gt;"
            )
            assert message["nick"] == "&lt;b&gt;mallory&lt;/b&gt;"
            await listener.wait_for_presence("room-12", ["&lt;b&gt;mallory&lt;/b&gt;", "bob"])
            late = await ChatClient(b.url).connect()
            history = await late.join("room-12", "late")
            await late.close()
            assert "<" not in json.dumps(history)
        finally:
            await sender.close()
            await listener.close()

    asyncio.run(scenario())


def test_a_flood_is_rate_limited_per_connection_and_others_are_unaffected(pair: Pair) -> None:
    async def scenario() -> None:
        a, _ = pair
        flooder, calm = await joined(a.url, "room-13", "flooder"), await joined(a.url, "room-13", "calm")
        try:
            for n in range(40):  # defaults: 5 messages/s, bursts of 10
                await flooder.say("room-13", f"spam {n}")
            await calm.say("room-13", "a normal message")

            await calm.wait_for("message", lambda m: m["text"] == "a normal message")
            await flooder.wait_for_error("rate_limited")
            await asyncio.sleep(0.5)
            delivered = [m["text"] for m in calm.events("message") if m["text"].startswith("spam")]
            assert 10 <= len(delivered) <= 15  # the burst, plus what refilled while the flood lasted
            assert len(flooder.events("error")) == 40 - len(delivered)
            assert calm.events("error") == []

            await asyncio.sleep(1.0)  # the bucket refills: the flooder may speak again
            await flooder.say("room-13", "sorry")
            await calm.wait_for("message", lambda m: m["text"] == "sorry")
        finally:
            await flooder.close()
            await calm.close()

    asyncio.run(scenario())


def test_an_oversized_packet_costs_only_its_sender_the_connection(pair: Pair) -> None:
    async def scenario() -> None:
        a, _ = pair
        big, calm = await joined(a.url, "room-14", "big"), await joined(a.url, "room-14", "calm")
        try:
            await big.say("room-14", "x" * 200_000)  # over the 64 KiB engine.io packet limit

            await big.wait_for("disconnect")
            await calm.say("room-14", "unbothered")
            await calm.wait_for("message", lambda m: m["text"] == "unbothered")
            assert pair[0].healthz()[0] == 200
        finally:
            await big.close()
            await calm.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "frames",
    [
        ['42["message",'],  # truncated JSON
        ['42["join",{"room":'],
        ["4"],  # an empty socket.io packet
        ["9999"],  # no such packet type
        ['42[{"a":1}]'],  # an event without a name
        ["42" + "[" * 5000],  # nesting deep enough to exhaust the JSON decoder's recursion
        ["\x00\xff"],  # not an engine.io packet at all: FrameGuard ends the connection
        [""],
        ["b!!not base64!!"],
    ],
)
def test_malformed_frames_on_a_raw_websocket_leave_no_ghost_and_no_damage(pair: Pair, frames: list[str]) -> None:
    """Below the socket.io client: broken engine.io / socket.io packets straight onto the wire."""

    async def scenario() -> None:
        a, _ = pair
        url = f"ws://127.0.0.1:{a.port}/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(url) as ws:
            await ws.recv()  # engine.io open packet
            await ws.send("40")  # socket.io connect: this is now a session that counts as a client
            await ws.recv()
            assert a.healthz()[1]["clients"] >= 1
            for frame in frames:
                await ws.send(frame)
            await asyncio.sleep(0.2)
        for _ in range(50):  # the session goes as soon as the server notices the close
            if a.healthz()[1]["clients"] == 0:
                break
            await asyncio.sleep(0.05)
        assert a.healthz()[1]["clients"] == 0
        calm = await joined(a.url, "room-15", "calm")
        try:
            await calm.say("room-15", "still serving")
            await calm.wait_for("message", lambda m: m["text"] == "still serving")
        finally:
            await calm.close()
        assert a.process is not None
        assert a.process.poll() is None  # engine.io logs the broken packets; the instance serves on

    asyncio.run(scenario())
