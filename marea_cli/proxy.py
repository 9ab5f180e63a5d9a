"""`marea console`: the console on 127.0.0.1, every request forwarded to the API (signed for a deployed stage).

The way `kubectl proxy` works: the browser talks to this process without credentials; this process
adds the caller's SigV4 signature to each request it forwards, so no AWS credential reaches the page.

Since it signs whatever reaches it, it forwards only what the console (or a local tool) sends: a request
must name this forwarder as its Host (a web page whose name was rebound to 127.0.0.1 names its own), and a
request that can change something must not come from another origin (a page elsewhere posting to
127.0.0.1 carries its Origin; the console's own calls carry this one, or none from curl).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, cast
from urllib.parse import quote

from marea_cli.client import ApiClient, ApiError, Unreachable
from marea_cli.signing import CredentialsMissing

# Hop-by-hop headers and those the forwarder sets itself are not relayed (RFC 9110 7.6.1).
_NOT_RELAYED = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}
# The browser's request headers the API reads (the console's PATCH carries If-Match: a stale page gets 412 rather
# than overwrite a newer version); the rest (cookies, the browser's own) stay here, and the forwarder signs its own.
FORWARDED = ("Accept", "If-Match", "If-None-Match")
MAX_BODY = 6 * 1024 * 1024  # API Gateway's and Lambda's payload limit


class ForwardingHandler(BaseHTTPRequestHandler):
    """Forwards each request to ``client``'s endpoint and relays the answer (status, headers, body)."""

    protocol_version = "HTTP/1.1"
    client: ClassVar[ApiClient]

    def _forward(self) -> None:
        raw_length = self.headers.get("Content-Length") or "0"
        length = int(raw_length) if raw_length.isdigit() else -1  # -1: refused below, never read
        refusal = self._refusal(length)
        if refusal is not None:
            self.close_connection = True  # its body, unread, must not be taken for the next request
            self._answer(*refusal, {})
            return
        data = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type", "application/json")
        passed_on = {name: self.headers[name] for name in FORWARDED if name in self.headers}
        try:
            response = self.client.send(
                self.command, canonical_target(self.path), data=data, content_type=content_type, extra_headers=passed_on
            )
        except ApiError as exc:
            self._answer(exc.status, exc.raw, exc.headers)
        except (Unreachable, CredentialsMissing) as exc:
            self._answer(502, _error("BAD_GATEWAY", str(exc)), {})
        else:
            self._answer(response.status, response.raw, response.headers)

    def _refusal(self, length: int) -> tuple[int, bytes] | None:
        port = cast(ThreadingHTTPServer, self.server).server_port
        own = {f"127.0.0.1:{port}", f"localhost:{port}"}
        host, origin = self.headers.get("Host"), self.headers.get("Origin")
        if host not in own:
            return 403, _error("FORBIDDEN", f"this forwarder answers only to http://127.0.0.1:{port} (Host {host!r})")
        if self.command not in ("GET", "HEAD") and origin is not None and origin not in {f"http://{h}" for h in own}:
            return 403, _error("FORBIDDEN", f"a {self.command} from another origin ({origin}) is not forwarded")
        if "Transfer-Encoding" in self.headers:
            return 411, _error("LENGTH_REQUIRED", "send the body with a Content-Length, not chunked")
        if length < 0:
            return 400, _error("BAD_REQUEST", "Content-Length must be a number of bytes")
        if length > MAX_BODY:
            return 413, _error("PAYLOAD_TOO_LARGE", "the request body is over 6 MB")
        return None

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in _NOT_RELAYED:
                self.send_header(name, value)
        if not any(name.lower() == "content-type" for name in headers):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


def canonical_target(target: str) -> str:
    """The request's path and query with the query %-encoded as SigV4 wants it (RFC 3986: a space is %20).

    A browser writes a space as ``+`` (URLSearchParams); signed as it came, API Gateway reads it as a space,
    encodes it %20 and finds another signature."""
    path, _, query = target.partition("?")
    if not query:
        return path
    return path + "?" + urllib.parse.urlencode(urllib.parse.parse_qsl(query, keep_blank_values=True), quote_via=quote)


def _error(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


def make_server(client: ApiClient, port: int = 0) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:``port`` (a free one when 0) forwarding to ``client``'s endpoint."""
    handler = type("BoundForwardingHandler", (ForwardingHandler,), {"client": client})
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_in_background(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="marea-console-proxy", daemon=True)
    thread.start()
    return thread
