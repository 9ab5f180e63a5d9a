"""Where the chat's Redis is and how to be let in: opening a lean connection (chat/resp_connection.py).

The URL is read by redis-py's own `parse_url`, as the chat's redis-py clients read it, and its password wins
over the one from settings as it does in redis-py's `from_url`: the lean connections and redis-py's must never
disagree on where Redis is or who logs in. Of the URL's query options only `db` and the TLS ones are
understood; any other is refused at start-up rather than honoured by one client and ignored by the other.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any

from redis import exceptions as redis_errors
from redis.connection import SSLConnection, parse_url

from chat.resp_connection import Command, RespConnection, replies_within

# parse_url's names for the URL's host part and path, then the query options the lean connection honours.
LOCATION_OPTIONS = {"host", "port", "path", "username", "password", "db", "connection_class"}
TLS_OPTIONS = {"ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname"}
CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


@dataclass(frozen=True)
class TlsOptions:
    """`rediss://` as redis-py takes it: by default the server's certificate is checked against the system's CAs."""

    cert_reqs: str = "required"
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    check_hostname: bool = True  # as in redis-py: never when no certificate is asked for

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_certs)
        verify_mode = CERT_REQS[self.cert_reqs]
        context.check_hostname = self.check_hostname and verify_mode != ssl.CERT_NONE  # before verify_mode: ssl's rule
        context.verify_mode = verify_mode
        if self.certfile is not None:
            context.load_cert_chain(self.certfile, self.keyfile)
        return context


@dataclass(frozen=True)
class RedisAddress:
    """A `redis://`, `rediss://` or `unix://` URL, read once."""

    host: str = "localhost"
    port: int = 6379
    path: str | None = None
    tls: TlsOptions | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0

    @classmethod
    def from_url(cls, url: str, *, password: str | None = None) -> RedisAddress:
        """The address of `url`; `password` is used when the URL has none. ValueError for what is not understood."""
        options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]  # redis-py's own URL rules
        unknown = set(options) - LOCATION_OPTIONS - TLS_OPTIONS
        if unknown:
            raise ValueError(f"Redis URL options not supported by the chat: {', '.join(sorted(unknown))}")
        tls_options = {name.removeprefix("ssl_"): options[name] for name in TLS_OPTIONS & set(options)}
        is_tls = options.get("connection_class") is SSLConnection
        if tls_options and not is_tls:
            raise ValueError(f"TLS options in a Redis URL that is not rediss://: {', '.join(sorted(tls_options))}")
        if str(tls_options.get("cert_reqs", "required")) not in CERT_REQS:
            raise ValueError(f"ssl_cert_reqs must be one of {', '.join(CERT_REQS)}")
        return cls(
            host=str(options.get("host", "localhost")),
            port=int(options.get("port", 6379)),
            path=options.get("path"),
            tls=TlsOptions(**tls_options) if is_tls else None,
            username=options.get("username"),
            password=options.get("password") or password,
            db=int(options.get("db", 0)),
        )

    def __str__(self) -> str:
        return self.path or f"{self.host}:{self.port}"

    async def connect(
        self, *, connect_timeout_s: float, reply_timeout_s: float, subscriber: bool = False
    ) -> RespConnection:
        """A connection past AUTH and SELECT (`subscriber`: for SUBSCRIBE); ConnectionError when none can be had."""
        loop = asyncio.get_running_loop()

        def protocol() -> RespConnection:
            return RespConnection(subscriber=subscriber)

        try:
            async with asyncio.timeout(connect_timeout_s):
                if self.path is not None:
                    _, connection = await loop.create_unix_connection(protocol, self.path)
                else:
                    context = self.tls.context() if self.tls is not None else None
                    _, connection = await loop.create_connection(protocol, self.host, self.port, ssl=context)
        except OSError as exc:  # refused, unreachable, TLS refused, and the timeout (a TimeoutError is an OSError)
            raise redis_errors.ConnectionError(
                f"cannot connect to Redis at {self}: {exc or type(exc).__name__}"
            ) from exc
        try:
            await self._handshake(connection, reply_timeout_s)
        except BaseException:
            connection.fail(redis_errors.ConnectionError("handshake not completed"))
            raise
        return connection

    async def _handshake(self, connection: RespConnection, reply_timeout_s: float) -> None:
        commands: list[Command] = []
        if self.password is not None:
            commands.append(("AUTH", self.username, self.password) if self.username else ("AUTH", self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        if not commands:
            return
        replies = await replies_within(connection, connection.request(commands), reply_timeout_s)
        if self.password is not None and isinstance(replies[0], redis_errors.ResponseError):
            raise redis_errors.AuthenticationError(str(replies[0]))
        for reply in replies:
            if isinstance(reply, redis_errors.ResponseError):
                raise reply
