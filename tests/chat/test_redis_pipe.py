"""The chat's lean write connection (chat/redis_pipe.py, on chat/resp_connection.py and chat/redis_address.py).

Given batches of commands from many tasks at once, when they go through one RedisPipe to a real redis-server,
then each caller gets its own replies in order; error replies, a wrong password or database, an unreachable,
silent, hanging-up or out-of-step server and a restarted one each end as a RedisError for the callers
concerned, and the next batch works again once Redis does. The URL means what it means to redis-py, TLS
included. (The misbehaving servers are scripted sockets: a real Redis does not misbehave on demand.)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError, RedisError, ResponseError, TimeoutError

from chat.redis_address import RedisAddress
from chat.redis_pipe import RedisPipe
from chat.redis_subscription import RedisSubscription
from tests.chat.harness import RedisServer, free_port, require_binary


def with_pipe(url: str, body: Callable[[RedisPipe], Awaitable[None]], **options: float | str) -> None:
    async def scenario() -> None:
        pipe = RedisPipe(url, **options)  # type: ignore[arg-type]
        try:
            await body(pipe)
        finally:
            await pipe.aclose()

    uvloop.run(scenario())  # the chat's loop (chat/serve.py); the store's tests in test_fanout.py use asyncio's


def test_a_batch_is_answered_in_order_with_each_commands_reply(redis_server: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        replies = await pipe.execute(
            [("DEL", "pipe:list"), ("RPUSH", "pipe:list", "a", "b", "c"), ("LTRIM", "pipe:list", -2, -1)]
        )
        assert replies[1:] == [3, "OK"]
        assert await pipe.execute([("LRANGE", "pipe:list", 0, -1), ("PUBLISH", "pipe:nobody", "x")]) == [["b", "c"], 0]
        assert await pipe.execute([]) == []

    with_pipe(redis_server.url, body)


@pytest.mark.parametrize("opening", ["the first connection", "a reconnection"])
def test_batches_reach_redis_in_the_order_they_were_submitted_while_the_connection_opens(
    redis_server: RedisServer, opening: str
) -> None:
    """One batch per loop turn from before the connection is open until after: Redis gets them in order."""

    async def body(pipe: RedisPipe) -> None:
        await pipe.execute([("DEL", "pipe:order")])
        if opening == "a reconnection":
            assert pipe._connection is not None
            pipe._connection.fail(ConnectionError("dropped by the test"))  # as when Redis restarts
        else:
            await pipe.aclose()
            pipe = RedisPipe(redis_server.url)
        try:
            calls = []
            for n in range(30):  # opening a connection takes several loop turns (connect, then HELLO/SELECT)
                calls.append(asyncio.ensure_future(pipe.execute([("RPUSH", "pipe:order", n)])))
                await asyncio.sleep(0)
            await asyncio.gather(*calls)
            assert await pipe.execute([("LRANGE", "pipe:order", 0, -1)]) == [[str(n) for n in range(30)]]
        finally:
            await pipe.aclose()

    with_pipe(redis_server.url, body)


def test_concurrent_callers_each_get_their_own_replies(redis_server: RedisServer) -> None:
    async def caller(pipe: RedisPipe, n: int) -> list[object]:
        await asyncio.sleep(0.001 * (n % 3))  # some batches share a write, some do not
        return await pipe.execute([("ECHO", f"first {n}"), ("ECHO", f"second {n} \u00e9")])

    async def body(pipe: RedisPipe) -> None:
        replies = await asyncio.gather(*(caller(pipe, n) for n in range(200)))
        assert replies == [[f"first {n}", f"second {n} \u00e9"] for n in range(200)]

    with_pipe(redis_server.url, body)


def test_an_error_reply_is_raised_and_the_connection_stays_usable(redis_server: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        await pipe.execute([("SET", "pipe:string", "text")])
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await pipe.execute([("RPUSH", "pipe:string", "x"), ("PUBLISH", "pipe:nobody", "y")])
        assert await pipe.execute([("GET", "pipe:string")]) == ["text"]

    with_pipe(redis_server.url, body)


def test_a_cancelled_caller_does_not_shift_the_replies_of_the_next(redis_server: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        await pipe.execute([("PING",)])  # connected, so the cancelled call below has written its command
        first = asyncio.create_task(pipe.execute([("ECHO", "cancelled")]))
        await asyncio.sleep(0)
        first.cancel()
        assert await pipe.execute([("ECHO", "next")]) == ["next"]
        assert first.cancelled()

    with_pipe(redis_server.url, body)


def test_the_database_comes_from_the_url(redis_server: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        await pipe.execute([("SET", "pipe:db", "three")])
        reader = Redis.from_url(redis_server.url.rsplit("/", 1)[0] + "/3", decode_responses=True)
        try:
            assert await reader.get("pipe:db") == "three"
        finally:
            await reader.aclose()

    with_pipe(redis_server.url.rsplit("/", 1)[0] + "/3", body)


def test_an_unreachable_redis_is_a_connection_error() -> None:
    async def body(pipe: RedisPipe) -> None:
        for _ in range(2):  # and stays one: a failed connect is not remembered as a connection
            with pytest.raises(ConnectionError, match="cannot connect"):
                await pipe.execute([("PING",)])

    with_pipe(f"redis://127.0.0.1:{free_port()}/0", body, connect_timeout_s=1.0)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def scripted_server(handle: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """Not Redis: a server on 127.0.0.1 that misbehaves as `handle` says; yields its URL and a connection count."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections) + 1)
        try:
            await handle(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0", connections
    finally:
        server.close()


async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client goes


async def hang_up_after_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)


async def answer_twice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await reader.readline():  # "*1", "$4", "PING": a PING is its last line
        if line.strip() == b"PING":
            writer.write(b"+PONG\r\n+EXTRA\r\n")


def test_a_silent_server_times_out_every_batch_and_the_next_opens_a_new_connection() -> None:
    async def body() -> None:
        async with scripted_server(never_answer) as (url, connections):
            pipe = RedisPipe(url, reply_timeout_s=0.3)
            try:
                first = await asyncio.gather(*(pipe.execute([("PING",)]) for _ in range(3)), return_exceptions=True)
                assert [type(outcome) for outcome in first] == [TimeoutError] * 3, first
                with pytest.raises(TimeoutError, match="no reply"):
                    await pipe.execute([("PING",)])
                assert connections == [1, 2]
            finally:
                await pipe.aclose()

    uvloop.run(body())


def test_a_connection_lost_with_batches_in_flight_fails_them_all() -> None:
    async def body() -> None:
        async with scripted_server(hang_up_after_reading) as (url, _):
            pipe = RedisPipe(url)
            try:
                outcomes = await asyncio.gather(*(pipe.execute([("PING",)]) for _ in range(3)), return_exceptions=True)
                assert all(isinstance(outcome, ConnectionError) for outcome in outcomes), outcomes
                assert all("lost" in str(outcome) for outcome in outcomes), outcomes
            finally:
                await pipe.aclose()

    uvloop.run(body())


def test_a_reply_nobody_asked_for_drops_the_connection() -> None:
    async def body() -> None:
        async with scripted_server(answer_twice) as (url, connections):
            pipe = RedisPipe(url)
            try:
                assert await pipe.execute([("PING",)]) == ["PONG"]
                await asyncio.sleep(0.1)  # the extra reply arrives: out of step, so the connection is dropped
                assert await pipe.execute([("PING",)]) == ["PONG"]
                assert connections == [1, 2]
            finally:
                await pipe.aclose()

    uvloop.run(body())


def test_a_command_that_cannot_be_encoded_is_refused_and_leaves_nothing_waiting(redis_server: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        with pytest.raises(TypeError):
            await pipe.execute([("ECHO", "fine"), ("SET", "pipe:flag", True)])  # a bool is an int to mypy
        assert await pipe.execute([("ECHO", "mine")]) == ["mine"]

    with_pipe(redis_server.url, body)


def test_a_database_redis_does_not_have_is_an_error(redis_server: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        with pytest.raises(ResponseError, match="out of range"):
            await pipe.execute([("PING",)])

    with_pipe(redis_server.url.rsplit("/", 1)[0] + "/99", body)


def test_a_closed_pipe_refuses_batches(redis_server: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        await pipe.execute([("PING",)])
        await pipe.aclose()
        with pytest.raises(ConnectionError, match="closed"):
            await pipe.execute([("PING",)])

    with_pipe(redis_server.url, body)


def test_connections_probe_a_silent_peer_with_tcp_keepalive_as_redis_py_does(redis_server: RedisServer) -> None:
    async def body() -> None:
        address = RedisAddress.from_url(redis_server.url)
        connection = await address.connect(connect_timeout_s=1, reply_timeout_s=1)
        try:
            assert connection.transport is not None
            sock = connection.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
        finally:
            connection.close()

    uvloop.run(body())


def test_after_a_redis_restart_the_next_batch_reconnects(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start()

    async def body(pipe: RedisPipe) -> None:
        assert await pipe.execute([("SET", "pipe:before", "1")]) == ["OK"]
        await asyncio.to_thread(server.stop)  # the loop runs meanwhile and sees the connection close
        with pytest.raises(ConnectionError):
            await pipe.execute([("PING",)])
        await asyncio.to_thread(server.start)
        assert await pipe.execute([("EXISTS", "pipe:before"), ("SET", "pipe:after", "1")]) == [0, "OK"]

    try:
        with_pipe(server.url, body, connect_timeout_s=1.0)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def secured(module_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(module_dir / "secured", password="s3cret-token")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("password", "error", "match"),
    [(None, ResponseError, "NOAUTH"), ("wrong", AuthenticationError, "WRONGPASS|invalid")],
)
def test_a_redis_with_a_password_refuses_writes_without_it(
    secured: RedisServer, password: str | None, error: type[RedisError], match: str
) -> None:
    async def body(pipe: RedisPipe) -> None:
        with pytest.raises(error, match=match):
            await pipe.execute([("SET", "pipe:secret", "1")])

    options = {} if password is None else {"password": password}
    with_pipe(secured.url, body, **options)


def test_the_password_from_settings_authenticates(secured: RedisServer) -> None:
    async def body(pipe: RedisPipe) -> None:
        assert await pipe.execute([("SET", "pipe:secret", "1"), ("GET", "pipe:secret")]) == ["OK", "1"]

    with_pipe(secured.url, body, password="s3cret-token")


def test_rediss_urls_speak_tls_and_check_the_certificate_as_redis_py_does(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(  # noqa: S603  (fixed argument list, no shell)
        [
            require_binary("openssl", "openssl"),
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    server = RedisServer(tmp_path / "redis", tls_files=(cert, key))
    server.start()

    async def untrusted(pipe: RedisPipe) -> None:
        with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await pipe.execute([("PING",)])

    async def trusted(pipe: RedisPipe) -> None:
        assert await pipe.execute([("PING",)]) == ["PONG"]

    async def subscribed() -> None:
        address = RedisAddress.from_url(f"{server.url}?ssl_ca_certs={cert}")
        subscription = await RedisSubscription.open(address, "tls", connect_timeout_s=1, reply_timeout_s=5)
        publisher = RedisPipe(f"{server.url}?ssl_ca_certs={cert}")
        try:
            await publisher.execute([("PUBLISH", "tls", "over tls")])
            assert await asyncio.wait_for(anext(subscription), 5) == b"over tls"
        finally:
            subscription.close()
            await publisher.aclose()

    try:
        assert server.url.startswith("rediss://")
        with_pipe(server.url, untrusted)  # a self-signed certificate the system's trust store does not hold
        with_pipe(f"{server.url}?ssl_ca_certs={cert}", trusted)
        with_pipe(f"{server.url}?ssl_cert_reqs=none", trusted)
        uvloop.run(subscribed())
    finally:
        server.stop()


def test_the_url_is_read_as_redis_py_reads_it_and_what_is_not_understood_is_refused() -> None:
    address = RedisAddress.from_url("rediss://ana:from-url@cache.local:6380/2?ssl_cert_reqs=optional", password="x")
    assert (address.host, address.port, address.db, address.username) == ("cache.local", 6380, 2, "ana")
    assert address.password == "from-url"  # the URL's wins, as in redis-py's from_url
    assert address.tls is not None
    assert address.tls.cert_reqs == "optional"
    assert RedisAddress.from_url("redis://cache.local", password="from-settings").password == "from-settings"
    assert RedisAddress.from_url("unix:///run/redis.sock?db=3").path == "/run/redis.sock"
    with pytest.raises(ValueError, match="not supported by the chat: socket_timeout"):
        RedisAddress.from_url("redis://cache.local/0?socket_timeout=3")
    with pytest.raises(ValueError, match="not rediss"):
        RedisAddress.from_url("redis://cache.local/0?ssl_cert_reqs=none")
    with pytest.raises(ValueError, match="ssl_cert_reqs must be"):
        RedisAddress.from_url("rediss://cache.local/0?ssl_cert_reqs=sometimes")
