"""The plain-HTTP side of the chat: the page, its assets and `GET /healthz` (socket.io traffic never gets here).

Assets come from a fixed list read once at start-up, never from a path the client names, so no URL can
reach another file. The socket.io client is the official build installed by npm into chat/node_modules.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger("chat.web")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
HealthCheck = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]

# Defence in depth behind server-side escaping: the page may run only its own scripts and talk only to its origin.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; "
        b"base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
SOCKET_IO_CLIENT = Path("socket.io-client") / "dist" / "socket.io.min.js"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: bytes
    cache_control: bytes


def load_assets(static_dir: Path, node_modules_dir: Path) -> dict[str, Asset]:
    """url path -> asset; a missing socket.io client bundle is logged, and the page then says what to run."""
    no_cache, an_hour = b"no-cache", b"public, max-age=3600"
    sources = {
        "/": (static_dir / "index.html", b"text/html; charset=utf-8", no_cache),
        "/static/chat.css": (static_dir / "chat.css", b"text/css; charset=utf-8", no_cache),
        "/static/chat.js": (static_dir / "chat.js", b"text/javascript; charset=utf-8", no_cache),
        "/vendor/socket.io.min.js": (node_modules_dir / SOCKET_IO_CLIENT, b"text/javascript; charset=utf-8", an_hour),
    }
    assets: dict[str, Asset] = {}
    for url, (path, content_type, cache_control) in sources.items():
        try:
            assets[url] = Asset(path.read_bytes(), content_type, cache_control)
        except FileNotFoundError:
            logger.error(
                "asset missing",
                extra={"url": url, "path": str(path), "hint": "npm ci in chat/ installs the socket.io client"},
            )
    if "/" in assets:
        assets["/index.html"] = assets["/"]
    return assets


class WebApp:
    """ASGI app for everything that is not /socket.io/."""

    def __init__(self, assets: dict[str, Asset], health: HealthCheck) -> None:
        self.assets = assets
        self.health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # only /socket.io/ speaks websocket
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return  # lifespan is off: the runtime starts and stops around the server instead
        method, path = scope["method"], scope["path"]
        if method not in ("GET", "HEAD"):
            await self._respond(send, 405, b"text/plain", b"method not allowed", extra=[(b"allow", b"GET, HEAD")])
            return
        if path == "/healthz":
            status, body = await self.health()
            await self._respond(send, status, b"application/json", json.dumps(body).encode(), head=method == "HEAD")
            return
        asset = self.assets.get(path)
        if asset is None:
            await self._respond(send, 404, b"text/plain", b"not found", head=method == "HEAD")
            return
        await self._respond(
            send,
            200,
            asset.content_type,
            asset.body,
            extra=[(b"cache-control", asset.cache_control)],
            head=method == "HEAD",
        )

    @staticmethod
    async def _respond(
        send: Send,
        status: int,
        content_type: bytes,
        body: bytes,
        *,
        extra: list[tuple[bytes, bytes]] | None = None,
        head: bool = False,
    ) -> None:
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            *SECURITY_HEADERS,
            *(extra or []),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else body})
