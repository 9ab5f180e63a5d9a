"""One chat instance: the socket.io server on Redis, its web side, and its background duties.

Background duties: the presence heartbeat (and janitor of dead instances), the ConnectedClients metric,
and the SIGTERM drain. The runtime is built from settings alone; `chat.serve` runs it under uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import socket
import sys
import time
from collections.abc import Coroutine
from typing import Any, TextIO

import socketio
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chat import json_codec
from chat.guard import FrameGuard
from chat.manager import ChatManager
from chat.metrics import connected_clients_emf
from chat.namespace import ChatNamespace
from chat.redis_pipe import RedisPipe
from chat.settings import ChatSettings
from chat.store import ChatStore
from chat.transport import DirectWriteServer
from chat.web import ASGIApp, WebApp, load_assets

logger = logging.getLogger("chat.runtime")

HEALTH_PING_TIMEOUT_S = 1.0
# Clients told to move away spread their reconnects over this window (at most), so the surviving tasks
# are not hit by every client of the stopped task in the same instant.
MAX_RECONNECT_SPREAD_MS = 5000
DISCONNECT_TIMEOUT_S = 2.0
REDIS_POOL_WAIT_S = 5.0
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_REPLY_TIMEOUT_S = 5.0


# CPython's cyclic GC walks every live object in a full collection: with hundreds of connections that is a
# stop-the-world pause of 100+ ms, every client's latency at once. Objects alive after start-up (modules,
# classes) are frozen out of collection, and young collections run less often (the chat's per-message
# garbage is acyclic and freed by reference counting anyway).
GC_THRESHOLDS = (50_000, 20, 100)


def calm_the_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class ChatRuntime:
    def __init__(self, settings: ChatSettings, *, stdout: TextIO | None = None) -> None:
        self.settings = settings
        self.stdout = stdout or sys.stdout
        self.instance_id = f"{socket.gethostname()}-{secrets.token_hex(4)}"
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        # A bounded pool that makes commands wait for a free connection: a burst of joins must not open
        # hundreds of Redis connections (each one a handshake) at the moment the instance is busiest.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=REDIS_POOL_WAIT_S,
            password=password,
            decode_responses=True,
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
            socket_timeout=REDIS_REPLY_TIMEOUT_S,
            # A restarted Redis leaves every pooled connection dead: retry once on a fresh one, quickly.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self.redis = Redis.from_pool(pool)
        self.writes = RedisPipe(
            settings.redis_url,
            password=password,
            connect_timeout_s=REDIS_CONNECT_TIMEOUT_S,
            reply_timeout_s=REDIS_REPLY_TIMEOUT_S,
        )
        self.store = ChatStore(
            self.redis,
            self.writes,
            instance_id=self.instance_id,
            key_prefix=settings.key_prefix,
            history_size=settings.history_size,
            presence_ttl_s=settings.presence_ttl_s,
            clock=time.time,
        )
        self.manager = ChatManager(
            settings.redis_url,
            channel=settings.redis_channel,
            redis_options={"socket_connect_timeout": REDIS_CONNECT_TIMEOUT_S, "password": password},
            reply_timeout_s=REDIS_REPLY_TIMEOUT_S,
        )
        self.sio = DirectWriteServer(
            async_mode="asgi",
            client_manager=self.manager,
            # orjson: every message is encoded into a packet, into a pub/sub payload, and decoded by every instance.
            json=json_codec,
            cors_allowed_origins=list(settings.cors_allowed_origins) or None,
            # One client's events run in order (a chat must not reorder a person's messages), and a flooding
            # client waits for its own events instead of piling up tasks.
            async_handlers=False,
            max_http_buffer_size=settings.max_packet_bytes,
            logger=False,
            engineio_logger=False,
        )
        self.namespace = ChatNamespace(settings, self.store, self.manager)
        self.sio.register_namespace(self.namespace)
        self.web = WebApp(load_assets(settings.static_dir, settings.node_modules_dir), self.health)
        self.asgi: ASGIApp = FrameGuard(socketio.ASGIApp(self.sio, other_asgi_app=self.web))
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def connected_clients(self) -> int:
        return len(self.namespace.sessions)

    async def start(self) -> None:
        try:
            await self.store.heartbeat({})
        except RedisError as exc:
            # Serve anyway: /healthz says 503 until Redis answers, and the heartbeat keeps trying.
            logger.warning("redis unreachable at start", extra={"error": str(exc)})
        self._tasks = [self._spawn(self._heartbeat_loop()), self._spawn(self._metrics_loop())]
        calm_the_garbage_collector()
        logger.info("chat instance started", extra={"instance": self.instance_id, "port": self.settings.port})

    @staticmethod
    def _spawn(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coroutine)

    async def health(self) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"instance": self.instance_id, "clients": self.connected_clients}
        if self.namespace.draining:
            return 503, {**body, "status": "draining"}
        try:
            await asyncio.wait_for(self.store.ping(), HEALTH_PING_TIMEOUT_S)
        except (RedisError, OSError, TimeoutError) as exc:
            return 503, {**body, "status": "unavailable", "redis": str(exc) or type(exc).__name__}
        return 200, {**body, "status": "ok", "redis": "ok"}

    def emit_metric(self) -> None:
        line = connected_clients_emf(
            self.connected_clients,
            cluster_name=self.settings.cluster_name,
            service_name=self.settings.service_name,
            timestamp_ms=int(time.time() * 1000),
            high_resolution=self.settings.metrics_interval_s < 60,
        )
        self.stdout.write(line + "\n")
        self.stdout.flush()

    async def _metrics_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.metrics_interval_s)
            self.emit_metric()

    async def _heartbeat_loop(self) -> None:
        reachable = True
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                members = self.namespace.local_members()
                await self.store.heartbeat(members)
                changed = await self.store.reap_dead_instances(self.settings.rooms)
                if not reachable:
                    # Redis is back, maybe empty: the lists clients hold may be stale, send fresh ones.
                    logger.info("redis reachable again")
                    changed |= {room for room, sids in members.items() if sids}
                reachable = True
                for room in sorted(changed):
                    await self.namespace.broadcast_presence(room)
            except RedisError as exc:
                if reachable:
                    logger.warning("redis unreachable", extra={"error": str(exc)})
                reachable = False
            except Exception:
                # The loop's outer boundary: a bug here must not stop presence for good.
                logger.exception("heartbeat failed")

    async def drain(self) -> None:
        """SIGTERM: refuse newcomers, ask clients to reconnect elsewhere, close stragglers at the deadline."""
        namespace = self.namespace
        namespace.draining = True
        timeout_s = self.settings.drain_timeout_s
        spread_ms = int(min(MAX_RECONNECT_SPREAD_MS, timeout_s * 1000 / 2))
        logger.info("draining", extra={"clients": self.connected_clients, "timeout_s": timeout_s})
        if namespace.sessions:
            await self.sio.emit("draining", {"reconnect_in_ms": spread_ms}, ignore_queue=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while namespace.sessions and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self.sio.eio.sockets:
            logger.info("closing remaining connections", extra={"clients": self.connected_clients})
            # An engine.io close, not a socket.io disconnect: clients see "transport close" and reconnect
            # by themselves (a socket.io disconnect would tell them to stay away).
            try:
                await asyncio.wait_for(self.sio.eio.disconnect(), DISCONNECT_TIMEOUT_S)
            except TimeoutError:
                # A connection whose peer vanished never acknowledges; uvicorn closes it on shutdown.
                logger.warning("some connections did not close", extra={"clients": self.connected_clients})
        logger.info("drained")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.store.withdraw(self.settings.rooms)
        except RedisError as exc:
            logger.warning("presence not withdrawn; the janitors of other instances will", extra={"error": str(exc)})
        await self.sio.shutdown()
        listener = getattr(self.sio.manager, "thread", None)
        if isinstance(listener, asyncio.Task):
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        await self.writes.aclose()
        await self.redis.aclose()
