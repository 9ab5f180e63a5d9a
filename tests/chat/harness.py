"""Real processes for the chat tests: redis-server (Debian's package) and chat instances on free 127.0.0.1 ports.

Nothing here is a double: each helper starts the real binary or `python -m chat` and waits until it answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marea_local.chat_processes import launch_chat

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0
NO_PERSISTENCE = ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
# Test rooms: one per test so history never leaks from one test into another.
TEST_ROOMS = ["general", "random", "help", *(f"room-{n}" for n in range(1, 25))]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: `make chat-deps` as root installs it (apt-get install {package})")
    return path


@dataclass
class RedisServer:
    """A redis-server of our own on a free port, with no persistence (a restart starts empty, like a new node)."""

    workdir: Path
    password: str | None = None
    # (certificate, key) PEM files: the server then speaks TLS only, on `port` (`rediss://`).
    tls_files: tuple[Path, Path] | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "rediss" if self.tls_files else "redis"
        return f"{scheme}://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = require_binary("redis-server", "redis-server")
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  (fixed argument list, no shell)
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir), *self._options],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.workdir / 'redis.log').read_text()[-2000:]}")
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING")

    @property
    def _options(self) -> list[str]:
        options = NO_PERSISTENCE + (["--requirepass", self.password] if self.password else [])
        if self.tls_files is None:
            return options
        cert, key = (str(path) for path in self.tls_files)
        tls = ["--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"]
        return [*options, "--tls-port", str(self.port), "--port", "0", *tls]

    def ping(self) -> bool:
        try:
            with self._connect() as sock:
                if self.password:
                    sock.sendall(f"AUTH {self.password}\r\n".encode())
                    sock.recv(16)
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:  # ssl.SSLError is one too
            return False

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
        if self.tls_files is None:
            return sock
        context = ssl.create_default_context(cafile=str(self.tls_files[0]))
        return context.wrap_socket(sock, server_hostname="127.0.0.1")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@dataclass
class ChatInstance:
    """`python -m chat` on a free port; stdout (EMF lines) and stderr (logs) go to files in `workdir`."""

    redis_url: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"chat-{self.port}.out"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"chat-{self.port}.err"

    def start(self) -> None:
        self.launch()
        self.wait_healthy()

    def launch(self) -> None:
        env = {**os.environ, "CHAT_ROOMS": json.dumps(TEST_ROOMS), **self.env}
        self.process = launch_chat(self.port, self._redis_args, env, self.stdout_path, self.stderr_path)

    def wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chat exited with {self.process.returncode}: {self.logs()[-3000:]}")
            with contextlib.suppress(OSError):
                status, _ = self.healthz()
                if status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"chat on port {self.port} never became healthy: {self.logs()[-3000:]}")

    @property
    def _redis_args(self) -> list[str]:
        return ["--redis-url", self.redis_url]

    def healthz(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=3) as response:  # noqa: S310  (loopback)
                return int(response.status), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return int(error.code), json.loads(error.read())

    def logs(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace") if self.stderr_path.exists() else ""

    def metric_lines(self) -> list[dict[str, Any]]:
        if not self.stdout_path.exists():
            return []
        lines = self.stdout_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def terminate(self) -> None:
        """SIGTERM, as ECS sends it at scale-in."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_all(*instances: ChatInstance) -> None:
    """Launch together, then wait: two Python start-ups overlap on two cores."""
    for instance in instances:
        instance.launch()
    for instance in instances:
        instance.wait_healthy()
