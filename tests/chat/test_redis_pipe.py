"""The chat's lean write connection (chat/redis_pipe.py) against a real redis-server.

Given batches of commands from many tasks at once, when they go through one RedisPipe, then each caller gets
its own replies in order; error replies, a wrong password, an unreachable or silent server and a restarted one
each end as a RedisError for the callers concerned, and the next batch works again once Redis does.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import uvloop
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, ConnectionError, RedisError, ResponseError, TimeoutError

from chat.redis_pipe import RedisPipe
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


def test_a_silent_server_times_out_and_the_next_batch_opens_a_new_connection() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    async def body(pipe: RedisPipe) -> None:
        loop = asyncio.get_running_loop()
        for expected_connections in (1, 2):
            with pytest.raises(TimeoutError, match="no reply"):
                await asyncio.gather(pipe.execute([("PING",)]), loop.run_in_executor(None, accept))
            assert len(accepted) == expected_connections

    def accept() -> None:
        connection, _ = listener.accept()
        accepted.append(connection)

    try:
        with_pipe(f"redis://127.0.0.1:{port}/0", body, reply_timeout_s=0.3)
    finally:
        for connection in accepted:
            connection.close()
        listener.close()


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


def test_rediss_urls_speak_tls_and_check_the_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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

    try:
        assert server.url.startswith("rediss://")
        with_pipe(server.url, untrusted)  # a self-signed certificate nobody said to trust
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read by the default context: the system's trust store
        with_pipe(server.url, trusted)
    finally:
        server.stop()
