"""`make demo` beside another program holding its ports: it fails at once and says which port and the way out.

Before, the embedded AWS took port 4599 from .chalice/config.json and moto's server waited forever
for a port another program held; the API's port was found taken only after the whole replay.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from marea_local.embedded_aws import PortUnavailable, free_port, start_embedded_aws

ROOT = Path(__file__).resolve().parents[2]
FAIL_FAST_S = 60  # a bound, not a timing: the demo's own imports take a few seconds on a busy machine


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run_demo(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "marea_local.demo", "--once", "--minutes", "1", "--chat", "simulated", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=FAIL_FAST_S,
        check=False,
    )


def test_the_embedded_aws_refuses_a_held_port_at_once(held_port: int) -> None:
    with pytest.raises(PortUnavailable) as refused:
        start_embedded_aws(held_port)
    assert refused.value.port == held_port
    assert "in use" in refused.value.reason


def test_the_demo_names_a_held_aws_port_and_the_way_out(held_port: int) -> None:
    result = run_demo("--port", str(free_port()), AWS_PORT=str(held_port))
    assert result.returncode != 0
    assert f"cannot start the embedded AWS on 127.0.0.1:{held_port}" in result.stderr
    assert "AWS_PORT=" in result.stderr
    assert "replaying" not in result.stdout


def test_the_demo_names_a_held_api_port_before_replaying(held_port: int) -> None:
    result = run_demo("--port", str(held_port))
    assert result.returncode != 0
    assert f"the HTTP API's port 127.0.0.1:{held_port} is not free" in result.stderr
    assert "PORT=" in result.stderr
    assert "replaying" not in result.stdout


def test_a_bad_aws_port_is_refused_with_its_value() -> None:
    result = run_demo("--port", str(free_port()), AWS_PORT="45x")
    assert result.returncode != 0
    assert "AWS_PORT='45x' is not a port number" in result.stderr
