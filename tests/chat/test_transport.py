"""The direct websocket write path (chat/transport.py), on a chat instance served in-process by uvicorn.

Given a real chat instance (uvicorn, the production configuration, a real redis-server) and real clients,
when packets go out to a websocket connection, then they are written without engine.io's queue and arrive in
the order they were sent, also when many are sent at once to a client that is not reading (the transport
pauses for backpressure); a long-polling connection keeps engine.io's queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn
import websockets
from engineio import packet as eio_packet
from engineio.async_socket import AsyncSocket

from chat.runtime import ChatRuntime
from chat.serve import server_config
from chat.settings import ChatSettings
from chat.transport import DirectWriteSocket
from chat.websocket_frames import text_frame
from tests.chat.client import ChatClient
from tests.chat.harness import RedisServer, free_port

ROOM = "general"


@contextlib.asynccontextmanager
async def serving(
    redis_url: str,
    *,
    key_prefix: str | None = None,
    max_message_chars: int = 1000,
    ws: str = "auto",
    deflate: bool = False,
) -> AsyncIterator[ChatRuntime]:
    """A chat instance served in-process; instances given the same `key_prefix` share rooms through Redis.

    `ws` picks uvicorn's websocket protocol: "auto" (production's: websockets-sansio) or "wsproto"; `deflate`
    offers per-message compression (production does not).
    """
    settings = ChatSettings(
        host="127.0.0.1",
        port=free_port(),
        redis_url=redis_url,
        message_rate_per_s=10_000,
        message_burst=10_000,
        key_prefix=key_prefix or f"transport-{free_port()}",
        max_message_chars=max_message_chars,
    )
    runtime = ChatRuntime(settings, stdout=io.StringIO())
    config = server_config(runtime, settings)
    config.ws = ws
    config.ws_per_message_deflate = deflate
    server = uvicorn.Server(config)
    await runtime.start()
    serving_task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving_task.done():
                serving_task.result()
            await asyncio.sleep(0.01)
        yield runtime
    finally:
        server.should_exit = True
        await serving_task
        await runtime.stop()


def url_of(runtime: ChatRuntime) -> str:
    return f"http://127.0.0.1:{runtime.settings.port}"


def only_socket(runtime: ChatRuntime) -> AsyncSocket:
    (socket,) = runtime.sio.eio.sockets.values()
    return socket


def count_queue_puts(socket: AsyncSocket) -> Callable[[], int]:
    """Count what goes through engine.io's queue from now on (the queue object itself stays: its writer waits on it)."""
    puts = 0
    original_put = socket.queue.put

    async def counting_put(item: Any) -> None:
        nonlocal puts
        puts += 1
        await original_put(item)

    socket.queue.put = counting_put
    return lambda: puts


def count_pauses(socket: AsyncSocket) -> Callable[[], int]:
    """Count the times uvicorn's websocket protocol of `socket` is told to pause writing (its buffer is full)."""
    protocol = socket._websocket.asgi_send.__self__
    pauses = 0
    original_pause = protocol.pause_writing

    def counting_pause() -> None:
        nonlocal pauses
        pauses += 1
        original_pause()

    protocol.pause_writing = counting_pause
    return lambda: pauses


def count_asgi_frames(socket: AsyncSocket) -> Callable[[], int]:
    """Count the frames `socket` sends through the server's ASGI `send` from now on."""
    websocket = socket._websocket
    frames = 0
    original_send = websocket.asgi_send

    async def counting_send(message: dict[str, Any]) -> None:
        nonlocal frames
        frames += message["type"] == "websocket.send"
        await original_send(message)

    websocket.asgi_send = counting_send
    return lambda: frames


def text_is(text: str) -> Callable[[Any], bool]:
    return lambda message: bool(message["text"] == text)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.mark.parametrize(("transport", "direct"), [("websocket", True), ("polling", False)])
def test_room_messages_arrive_in_order_and_skip_the_queue_only_on_websockets(
    redis_url: str, transport: str, direct: bool
) -> None:
    async def scenario() -> None:
        async with serving(redis_url) as runtime:
            ana = await ChatClient(url_of(runtime)).connect(transport=transport)
            try:
                await ana.join(ROOM, "ana")
                socket = only_socket(runtime)
                assert isinstance(socket, DirectWriteSocket)
                queue_puts = count_queue_puts(socket)
                texts = [f"message {n}" for n in range(60)]
                # In chunks: a long-polling client sends what piled up in one POST, and engine.io caps its packets.
                for chunk in range(0, len(texts), 10):
                    for text in texts[chunk : chunk + 10]:
                        await ana.say(ROOM, text)
                    await ana.wait_for("message", text_is(texts[chunk + 9]))
                assert [message["text"] for message in ana.events("message")] == texts
                if direct:
                    assert queue_puts() == 0
                else:
                    assert queue_puts() >= len(texts)
            finally:
                await ana.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(("ws", "through_asgi"), [("auto", False), ("wsproto", True)])
def test_frames_go_straight_to_uvicorn_s_transport_under_its_default_protocol_and_through_asgi_under_wsproto(
    redis_url: str, ws: str, through_asgi: bool
) -> None:
    async def scenario() -> None:
        async with serving(redis_url, ws=ws) as runtime:
            ana = await ChatClient(url_of(runtime)).connect()
            try:
                await ana.join(ROOM, "ana")
                socket = only_socket(runtime)
                assert isinstance(socket, DirectWriteSocket)
                queue_puts, asgi_frames = count_queue_puts(socket), count_asgi_frames(socket)
                texts = [f"h\u00e9llo {n}:" + "\U0001f44b" * n * 20 for n in range(8)]  # frames from 50 B to 600 B
                for text in texts:
                    await ana.say(ROOM, text)
                await ana.wait_for("message", text_is(texts[-1]))
                assert [message["text"] for message in ana.events("message")] == texts
                assert queue_puts() == 0
                if through_asgi:
                    assert asgi_frames() >= len(texts)
                else:
                    assert asgi_frames() == 0
            finally:
                await ana.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("text", ["", "x" * 125, "x" * 126, "x" * 65535, "x" * 65536, "h\u00e9llo \U0001f44b"], ids=len)
def test_a_shared_text_frame_is_byte_for_byte_what_uvicorn_s_protocol_writes(text: str) -> None:
    protocol = websockets.ServerProtocol(state=websockets.protocol.State.OPEN)
    protocol.send_text(text.encode())
    assert text_frame(text) == b"".join(protocol.data_to_send())


async def engineio_websocket(
    url: str, *, max_queue: int, compression: str | None = None
) -> websockets.ClientConnection:
    """A raw socket.io connection over websocket; it stops reading once `max_queue` frames wait unread."""
    ws = await websockets.connect(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        compression=compression,
        max_queue=max_queue,
        ping_interval=None,
    )
    opening = await ws.recv()
    assert isinstance(opening, str)
    assert opening.startswith("0")
    await ws.send("40")
    return ws


@contextlib.asynccontextmanager
async def direct_socket_and_raw_client(
    redis_url: str, *, max_queue: int
) -> AsyncIterator[tuple[DirectWriteSocket, websockets.ClientConnection]]:
    """A served instance's only socket, once its namespace connect is out, and the raw client at its other end."""
    async with serving(redis_url) as runtime:
        ws = await engineio_websocket(url_of(runtime), max_queue=max_queue)
        try:
            socket = only_socket(runtime)
            assert isinstance(socket, DirectWriteSocket)
            await asyncio.sleep(0.2)  # the namespace connect and the welcome are out; the writer waits
            yield socket, ws
        finally:
            await ws.close()


@pytest.mark.parametrize("writer", ["yet to take the queued packets", "stuck in the batch it took"])
def test_a_burst_to_a_client_that_stops_reading_arrives_complete_and_in_order(redis_url: str, writer: str) -> None:
    """Thousands of concurrent sends to a stalled reader behind queued packets: none overtakes another."""
    burst, padding = 3000, "x" * 10_000  # 30 MB, the first 10 MB alone more than loopback's socket buffers hold

    async def scenario() -> None:
        async with direct_socket_and_raw_client(redis_url, max_queue=1) as (socket, ws):

            def packet(seq: int) -> eio_packet.Packet:
                event = json.dumps(["burst", {"seq": seq, "padding": padding}])
                return eio_packet.Packet(eio_packet.MESSAGE, "2" + event)  # socket.io EVENT

            # The first third goes through engine.io's queue, as packets queued during an upgrade do.
            for seq in range(burst // 3):
                await AsyncSocket.send(socket, packet(seq))
            if writer == "yet to take the queued packets":
                assert socket.queue.qsize() == burst // 3
            else:
                await asyncio.sleep(0.3)
                assert socket.queue.empty()
                assert socket._writer_holding, "the writer is not stuck in a batch: the burst is too small"
            sends = [asyncio.create_task(socket.send(packet(seq))) for seq in range(burst // 3, burst)]
            await asyncio.sleep(0.3)

            # Read slowly, so the transport keeps pausing while the writer works through its batch.
            received: list[int] = []
            while len(received) < burst:
                frame = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(frame, str) and frame.startswith('42["burst"'):
                    received.append(json.loads(frame[2:])[1]["seq"])
                    if len(received) % 20 == 0:
                        await asyncio.sleep(0.002)
            await asyncio.gather(*sends)
            assert received == list(range(burst))

    asyncio.run(scenario())


def test_a_connection_upgraded_from_long_polling_writes_directly_after_the_upgrade(redis_url: str) -> None:
    """Browsers start on long-polling and upgrade; once upgraded, their packets skip the queue too."""

    async def scenario() -> None:
        async with serving(redis_url) as runtime:
            client = ChatClient(url_of(runtime))
            # python-socketio's client starts on long-polling and upgrades, as the browser client does.
            await client.sio.connect(url_of(runtime), transports=["polling", "websocket"], wait_timeout=5)
            try:
                await client.wait_for("welcome")
                socket = only_socket(runtime)
                deadline = asyncio.get_running_loop().time() + 5
                while not socket.upgraded and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.05)
                assert socket.upgraded
                await client.join(ROOM, "bob")
                queue_puts = count_queue_puts(socket)
                for n in range(20):
                    await client.say(ROOM, f"after upgrade {n}")
                await client.wait_for("message", lambda message: message["text"] == "after upgrade 19")
                assert [m["text"] for m in client.events("message")] == [f"after upgrade {n}" for n in range(20)]
                assert queue_puts() == 0
            finally:
                await client.close()

    asyncio.run(scenario())


def test_a_quiet_websocket_outlives_engineio_s_writer_timeout(redis_url: str) -> None:
    """engine.io's writer quits after a ping interval + timeout without a queued packet; pings skip the queue here."""

    async def scenario() -> None:
        async with serving(redis_url) as runtime:
            runtime.sio.eio.ping_interval = 0.2  # the client learns these in the handshake
            runtime.sio.eio.ping_timeout = 0.3
            ana = await ChatClient(url_of(runtime)).connect()
            try:
                await ana.join(ROOM, "ana")
                await asyncio.sleep(2.0)  # four writer timeouts, eight pings answered
                assert ana.events("disconnect") == []
                await ana.say(ROOM, "still here")
                await ana.wait_for("message", lambda message: message["text"] == "still here")
            finally:
                await ana.close()

    asyncio.run(scenario())


def event_packet(seq: int) -> eio_packet.Packet:
    return eio_packet.Packet(eio_packet.MESSAGE, "2" + json.dumps(["seq", seq]))  # a socket.io EVENT


async def received_seqs(ws: websockets.ClientConnection, count: int) -> list[int]:
    seqs: list[int] = []
    while len(seqs) < count:
        frame = await asyncio.wait_for(ws.recv(), 5)
        if isinstance(frame, str) and frame.startswith('42["seq"'):
            seqs.append(json.loads(frame[2:])[1])
    return seqs


def test_nothing_goes_straight_to_the_transport_once_uvicorn_sent_its_close_frame(redis_url: str) -> None:
    async def scenario() -> None:
        async with direct_socket_and_raw_client(redis_url, max_queue=64) as (socket, ws):
            frame_writer = socket._frame_writer
            assert frame_writer is not None
            assert frame_writer.write(text_frame('42["seq",0]'))
            assert await received_seqs(ws, 1) == [0]
            await socket._websocket.close()  # engine.io's close: uvicorn writes its close frame
            assert not frame_writer.write(text_frame('42["seq",1]'))
            await asyncio.wait_for(socket.send(event_packet(2)), 1)  # takes the queue; nothing raises
            with pytest.raises(websockets.ConnectionClosed):
                await received_seqs(ws, 1)

    asyncio.run(scenario())


@pytest.mark.parametrize(("compression", "straight"), [("deflate", False), (None, True)])
def test_a_connection_that_negotiated_compression_keeps_uvicorn_s_send(
    redis_url: str, compression: str | None, straight: bool
) -> None:
    """Frames written straight are uncompressed: a connection with per-message deflate goes through ASGI."""

    async def scenario() -> None:
        async with serving(redis_url, deflate=True) as runtime:
            ws = await engineio_websocket(url_of(runtime), max_queue=64, compression=compression)
            try:
                await asyncio.sleep(0.2)  # the namespace connect and the welcome are out
                socket = only_socket(runtime)
                assert isinstance(socket, DirectWriteSocket)
                assert (socket._frame_writer is not None) == straight
                asgi_frames = count_asgi_frames(socket)
                await socket.send(event_packet(0))
                assert await received_seqs(ws, 1) == [0]
                assert asgi_frames() == (0 if straight else 1)
            finally:
                await ws.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("turns_between", [0, 1, 2, 3])
def test_a_send_right_after_a_queued_packet_does_not_overtake_it(redis_url: str, turns_between: int) -> None:
    """The writer takes a queued packet off the queue; a direct send in the loop turns that follow waits behind it."""

    async def scenario() -> None:
        async with direct_socket_and_raw_client(redis_url, max_queue=64) as (socket, ws):
            await AsyncSocket.send(socket, event_packet(0))  # engine.io's queue, as during an upgrade
            for _ in range(turns_between):
                await asyncio.sleep(0)
            await socket.send(event_packet(1))
            assert await received_seqs(ws, 2) == [0, 1]

    asyncio.run(scenario())


@pytest.mark.parametrize("order", ["resume, then send", "send, then resume"])
def test_a_send_while_the_transport_is_paused_returns_at_once_and_nothing_overtakes_it_when_it_resumes(
    redis_url: str, order: str
) -> None:
    """A paused transport: a send queues instead of waiting, and one made as the transport resumes goes after it."""

    async def scenario() -> None:
        async with direct_socket_and_raw_client(redis_url, max_queue=64) as (socket, ws):
            # uvicorn's websocket protocol: the transport calls its pause/resume_writing around a full buffer.
            protocol = socket._websocket.asgi_send.__self__
            protocol.pause_writing()
            await asyncio.wait_for(socket.send(event_packet(0)), 0.5)
            for _ in range(3):
                await asyncio.sleep(0)
            assert socket._writer_holding, "the writer has not taken the packet to wait for the transport"
            if order == "resume, then send":
                # As when a task that the loop runs before the writer's wake-up sends to the same client.
                protocol.resume_writing()
                await socket.send(event_packet(1))
            else:
                # The send queues, then the transport resumes in the same loop turn.
                later_send = asyncio.create_task(socket.send(event_packet(1)))
                asyncio.get_running_loop().call_soon(protocol.resume_writing)
                await later_send
            assert await received_seqs(ws, 2) == [0, 1]

    asyncio.run(scenario())


@pytest.mark.parametrize("sender_on", ["the same instance", "another instance"])
def test_a_member_that_stops_reading_holds_up_nobody_else_and_later_gets_everything_in_order(
    redis_url: str, sender_on: str
) -> None:
    """A member that stays connected but reads nothing: its transport pauses, and only its own packets wait.

    Delivering to it must not wait for it, neither in the sender's handler (same instance) nor in the pub/sub
    listener that delivers every other instance's messages (another instance).
    """
    count, padding = 600, "x" * 19_000  # 11 MB to the stalled member, more than loopback's socket buffers hold
    key_prefix = f"stall-{free_port()}"

    async def scenario() -> None:
        async with (
            serving(redis_url, key_prefix=key_prefix, max_message_chars=20_000) as here,
            serving(redis_url, key_prefix=key_prefix, max_message_chars=20_000) as there,
        ):
            stalled = await engineio_websocket(url_of(here), max_queue=1)
            pauses = count_pauses(only_socket(here))
            bob = await ChatClient(url_of(here)).connect()
            ana = await ChatClient(url_of(here if sender_on == "the same instance" else there)).connect()
            try:
                # The stalled member joins first, so every delivery on its instance reaches it before bob.
                await stalled.send("42" + json.dumps(["join", {"room": ROOM, "nick": "stalled"}]))
                while not (await asyncio.wait_for(stalled.recv(), 5)).startswith('42["history"'):
                    pass
                await bob.join(ROOM, "bob")
                await ana.join(ROOM, "ana")
                texts = [f"{n:04d} {padding}" for n in range(count)]
                for text in texts:
                    await ana.say(ROOM, text)
                deadline = asyncio.get_running_loop().time() + 20
                while len(bob.events("message")) < count and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.05)
                bob_got = [message["text"] for message in bob.events("message")]
                assert pauses() > 0, "the stalled member's transport never paused: the test proves nothing"
                assert len(bob_got) == count, f"bob got {len(bob_got)} of {count} messages"
                assert bob_got == texts

                received: list[str] = []
                while len(received) < count:
                    frame = await asyncio.wait_for(stalled.recv(), 10)
                    if isinstance(frame, str) and frame.startswith('42["message"'):
                        received.append(json.loads(frame[2:])[1]["text"])
                assert received == texts
            finally:
                await ana.close()
                await bob.close()
                await stalled.close()

    asyncio.run(scenario())


def test_a_send_to_a_client_whose_pings_stopped_closes_it_without_waiting_for_the_disconnect_handler(
    redis_url: str,
) -> None:
    """engine.io closes a silent client inside the send; the disconnect handler (Redis round trips) must not
    run in the sender, the pub/sub listener delivering to everyone."""

    async def scenario() -> None:
        async with direct_socket_and_raw_client(redis_url, max_queue=64) as (socket, _ws):
            eio = socket.server
            release, disconnected = asyncio.Event(), asyncio.Event()
            original_disconnect = eio.handlers["disconnect"]

            # Stands in for a disconnect handler slowed by a Redis outage (its round trips wait for replies).
            async def slow_disconnect(*args: Any) -> Any:
                await release.wait()
                outcome = await original_disconnect(*args)
                disconnected.set()
                return outcome

            eio.handlers["disconnect"] = slow_disconnect
            socket.last_ping = time.time() - eio.ping_timeout - 1  # the client has not answered for too long
            await asyncio.wait_for(socket.send(event_packet(0)), 0.5)
            await asyncio.wait_for(socket.send(event_packet(1)), 0.5)  # again: the close is under way, no wait
            assert socket.closing
            assert not socket.closed
            release.set()
            await asyncio.wait_for(disconnected.wait(), 5)  # socket.io's disconnect ran, once
            assert socket.closed

    asyncio.run(scenario())


async def read_until_closed(ws: websockets.ClientConnection) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await ws.recv()


def test_a_websocket_client_that_goes_silent_is_disconnected_after_a_ping_interval_and_timeout(redis_url: str) -> None:
    """The reader (chat/websocket_reader.py) ends a connection that sends nothing, pongs included, in time."""

    async def scenario() -> None:
        async with serving(redis_url) as runtime:
            runtime.sio.eio.ping_interval = 0.2  # the client learns these in the handshake
            runtime.sio.eio.ping_timeout = 0.3
            silent = await engineio_websocket(url_of(runtime), max_queue=64)  # answers no engine.io ping
            started = asyncio.get_running_loop().time()
            await asyncio.wait_for(read_until_closed(silent), 5)
            assert asyncio.get_running_loop().time() - started < 4
            deadline = asyncio.get_running_loop().time() + 5
            while runtime.sio.eio.sockets and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            assert runtime.sio.eio.sockets == {}

    asyncio.run(scenario())
