"""The embedded AWS: moto in server mode on 127.0.0.1, reached by boto3 over HTTP.

Started before any client exists; boto3 finds it through AWS_ENDPOINT_URL, exactly as the
`local` Chalice stage does. Nothing here can reach a real AWS account.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from collections.abc import Iterator
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


@dataclass
class EmbeddedAws:
    port: int
    server: Any

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


def start_embedded_aws(port: int | None = None) -> EmbeddedAws:
    from moto.server import ThreadedMotoServer

    # One access-log line per AWS call would drown what the demo and the tests print.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    chosen = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=chosen, verbose=False)
    server.start()
    return EmbeddedAws(port=chosen, server=server)


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
