"""The embedded AWS: moto in server mode on 127.0.0.1, reached by boto3 over HTTP.

Started before any client exists; boto3 finds it through AWS_ENDPOINT_URL, exactly as the
`local` Chalice stage does. Nothing here can reach a real AWS account.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PortUnavailable(OSError):
    """The embedded AWS could not listen on the port asked for (held by another program, or not allowed)."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"127.0.0.1:{port}: {reason}")
        self.port = port
        self.reason = reason


def check_port_free(port: int) -> None:
    """PortUnavailable unless 127.0.0.1:`port` can be listened on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds: TIME_WAIT is no obstacle
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortUnavailable(port, (exc.strerror or str(exc)).lower()) from exc


class MotoServer:
    """moto's server app on a werkzeug server bound here, in the caller's thread, then served from another.

    moto's own ThreadedMotoServer binds inside its thread and waits for it without a timeout, so a port
    another program holds hangs the caller forever; binding first turns that into an immediate error.
    """

    def __init__(self, port: int, wrap: Callable[[Any], Any] | None = None) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        if port:
            check_port_free(port)  # before werkzeug, which prints its own advice and exits when the port is taken
        app: Any = DomainDispatcherApplication(create_backend_app)
        if wrap is not None:
            app = wrap(app)  # e.g. the reliability suite's serialising middleware
        try:
            self._server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
        except OSError as exc:
            raise PortUnavailable(port, exc.strerror or str(exc)) from exc
        except SystemExit as exc:  # werkzeug exits, after printing, when the port is taken
            raise PortUnavailable(port, "address already in use") from exc
        self.port: int = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-aws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()


@dataclass
class EmbeddedAws:
    port: int
    server: MotoServer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """Variables that send every boto3 client (ours, Powertools', chalice local's) here."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def reset(self) -> None:
        """Clear all state (moto's /moto-api/reset)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 - loopback only
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback only
            pass

    def stop(self) -> None:
        self.server.stop()


def start_embedded_aws(port: int | None = None, *, wrap: Callable[[Any], Any] | None = None) -> EmbeddedAws:
    """moto on 127.0.0.1:`port` (a free port when None); PortUnavailable at once when it cannot listen there.

    ``wrap``: middleware around moto's WSGI app."""
    # One access-log line per AWS call would drown what the demo and the tests print.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = MotoServer(port or 0, wrap=wrap)
    return EmbeddedAws(port=server.port, server=server)


@contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block and restore them afterwards."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
