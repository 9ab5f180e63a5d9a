"""The processes a chat benchmark runs against: redis-server, and two instances of either chat server.

All on 127.0.0.1, all started and stopped by the benchmark. The Node.js reference gets its npm packages
installed into a temporary folder each run (pinned versions below); nothing is installed into the repo.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_SERVER = Path(__file__).resolve().parent / "reference_server.js"
NODE_PACKAGES = ["socket.io@4.8.4", "@socket.io/redis-adapter@8.3.0", "redis@4.7.1"]
START_TIMEOUT_S = 20.0
NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]


@dataclass(frozen=True)
class Deployment:
    """Two chat instances of one kind: where to connect, and their processes (for CPU accounting)."""

    urls: list[str]
    pids: list[int]

    def cpu_seconds(self) -> float:
        """User + system CPU the instances used so far (Linux /proc)."""
        total = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / os.sysconf("SC_CLK_TCK")


CORES = os.cpu_count() or 1


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every process counted (Linux /proc/stat)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    clock = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / clock, sum(ticks) / clock


def busy_cores(before: tuple[float, float], after: tuple[float, float]) -> float:
    """How many cores were busy on average between two `machine_cpu_seconds` readings."""
    total = after[1] - before[1]
    return CORES * (after[0] - before[0]) / total if total > 0 else 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"{name} is not installed (make chat-deps installs it as root on Debian)")
    return path


def _wait_until(probe: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}")
        if probe():
            return
        time.sleep(0.05)
    sys.exit(f"{what} did not start within {START_TIMEOUT_S} s")


def _healthy(port: int) -> Callable[[], bool]:
    return lambda: _http_ok(f"http://127.0.0.1:{port}/healthz")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310  (loopback only)
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603  (fixed argument list)
        [_binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), *NO_PERSISTENCE],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until(lambda: _redis_ping(port), "redis-server", process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


def flush_redis(redis_url: str) -> None:
    port = int(redis_url.rsplit(":", 1)[1].split("/", 1)[0])
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        sock.recv(16)


def _launch(argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start one server with its stderr in `log` (the child keeps the file open; our handle closes here)."""
    with log.open("wb") as stderr:
        return subprocess.Popen(  # noqa: S603  (fixed argument lists built by this module)
            argv, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=stderr
        )


@contextlib.contextmanager
def _deployment(what: str, launch: Callable[[int], subprocess.Popen[bytes]], instances: int) -> Iterator[Deployment]:
    """`instances` servers on free ports, healthy before the load starts, stopped afterwards."""
    ports = [free_port() for _ in range(instances)]
    processes = [launch(port) for port in ports]
    try:
        for port, process in zip(ports, processes, strict=True):
            _wait_until(_healthy(port), what, process)
        yield Deployment([f"http://127.0.0.1:{port}" for port in ports], [process.pid for process in processes])
    finally:
        for process in processes:
            _stop(process)


def python_chat(
    redis_url: str, rooms: list[str], workdir: Path, python: str = sys.executable, instances: int = 2
) -> contextlib.AbstractContextManager[Deployment]:
    """Marea's chat: `python -m chat`, with the flood limit lifted (the load is many messages from few people).

    `python` may be another interpreter (say the container's Python version) with chat/requirements.txt installed.
    """
    env = {
        "CHAT_ROOMS": json.dumps(rooms),
        "CHAT_DEFAULT_ROOM": rooms[0],
        "CHAT_MESSAGE_RATE_PER_S": "1000",
        "CHAT_MESSAGE_BURST": "1000",
        "CHAT_LOG_LEVEL": "warning",
        "CHAT_DRAIN_TIMEOUT_S": "1",
    }

    def launch(port: int) -> subprocess.Popen[bytes]:
        argv = [python, "-m", "chat", "--host", "127.0.0.1", "--port", str(port), "--redis-url", redis_url]
        return _launch(argv, cwd=ROOT, env=env, log=workdir / f"python-chat-{port}.log")

    return _deployment("python chat", launch, instances)


def install_reference(workdir: Path) -> Path:
    """npm-install the reference server's packages into `workdir` and put the server file beside them."""
    npm = _binary("npm")
    subprocess.run(  # noqa: S603  (fixed argument list)
        [npm, "install", "--prefix", str(workdir), "--no-audit", "--no-fund", "--loglevel=error", *NODE_PACKAGES],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    server = workdir / "reference_server.js"
    shutil.copyfile(REFERENCE_SERVER, server)
    return server


def node_chat(
    redis_url: str, rooms: list[str], server: Path, instances: int = 2
) -> contextlib.AbstractContextManager[Deployment]:
    node = _binary("node")

    def launch(port: int) -> subprocess.Popen[bytes]:
        env = {"PORT": str(port), "REDIS_URL": redis_url, "CHAT_ROOMS": json.dumps(rooms)}
        return _launch([node, str(server)], cwd=server.parent, env=env, log=server.parent / f"node-chat-{port}.log")

    return _deployment("node chat", launch, instances)
