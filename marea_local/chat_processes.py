"""The processes of the demo's real chat tier: one redis-server and `python -m chat` instances.

Everything listens on 127.0.0.1 (free ports), lives in one temporary directory (Redis keeps
nothing: no RDB, no AOF) and is stopped by ``stop`` methods the demo calls on every exit path.
Children get their own session, so a Ctrl-C in the terminal reaches only the demo, which stops
them in order (clients, chat instances with SIGTERM, Redis last). Each instance's stdout goes to a
file that ``LogTail`` reads from where it stopped: that is where the awslogs stand-in listens. A
file rather than a pipe: the chat never blocks on a reader that is busy elsewhere, and no reader
thread competes with the demo for the interpreter lock at every line.
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
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from marea_local.embedded_aws import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
HEALTH_TIMEOUT_S = 1.0

# Past this many bytes read, a log file is emptied (the chat appends with O_APPEND, so it carries on at
# the new end): in live mode an instance prints about 400 kB a minute.
TRUNCATE_AFTER_BYTES = 1 << 20


class ChatProcessError(RuntimeError):
    """A chat-tier process that would not start or answer."""


@dataclass
class RedisProcess:
    """Debian's redis-server on a free 127.0.0.1 port, persisting nothing."""

    workdir: Path
    binary: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        arguments = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        arguments += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        self.process = subprocess.Popen(  # noqa: S603 - fixed argument list, the redis-server found on PATH
            arguments, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ChatProcessError(f"redis-server exited with {self.process.returncode}: {self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.05)
        raise ChatProcessError(f"redis-server did not answer PING within {REDIS_START_TIMEOUT_S:g} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def log_tail(self) -> str:
        path = self.workdir / "redis.log"
        return path.read_text(encoding="utf-8", errors="replace")[-1000:] if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class ChatProcess:
    """One `python -m chat` instance: a Fargate task of the chat service, run locally."""

    name: str
    workdir: Path
    redis_url: str
    environment: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    healthy: bool = False
    sigterm_at: float | None = None  # epoch seconds of the SIGTERM, None while it serves

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.name}.err"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"{self.name}.out"

    def launch(self) -> None:
        self.process = launch_chat(
            self.port,
            ["--redis-url", self.redis_url, "--log-level", "warning"],
            {**os.environ, **self.environment},
            self.stdout_path,
            self.stderr_path,
            new_session=True,  # the demo's Ctrl-C reaches the demo, which drains its chat processes itself
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def check_health(self) -> bool:
        """GET /healthz answers 200 (Redis reachable, not draining); remembers the first success."""
        status, _ = self.healthz()
        self.healthy = self.healthy or status == 200
        return self.healthy

    def connected_clients(self) -> int | None:
        """The connections the instance holds, as its /healthz reports them (None if it does not answer)."""
        _, body = self.healthz()
        clients = body.get("clients")
        return clients if isinstance(clients, int) else None

    def healthz(self) -> tuple[int, dict[str, Any]]:
        """(status, body) of GET /healthz; (0, {}) when nothing answers."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=HEALTH_TIMEOUT_S) as response:  # noqa: S310 - loopback only
                return int(response.status), _json_object(response.read())
        except urllib.error.HTTPError as error:  # 503: Redis unreachable or draining; the body says which
            return int(error.code), _json_object(error.read())
        except OSError:  # refused or timed out
            return 0, {}

    def wait_healthy(self, timeout_s: float, stop: threading.Event) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.check_health():
            if self.exited() is not None:
                raise ChatProcessError(f"{self.name} exited with {self.exited()}: {self.log_tail()}")
            if time.monotonic() > deadline or stop.is_set():
                raise ChatProcessError(f"{self.name} did not answer /healthz within {timeout_s:g} s: {self.log_tail()}")
            stop.wait(0.05)

    def terminate(self) -> None:
        """SIGTERM, as ECS sends it at scale-in: the chat drains, then exits."""
        if self.process is not None and self.process.poll() is None and self.sigterm_at is None:
            self.sigterm_at = time.time()
            self.process.send_signal(signal.SIGTERM)

    def log_tail(self) -> str:
        if not self.stderr_path.exists():
            return ""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-800:].strip()

    def stop(self) -> None:
        stop_process(self.process)


def launch_chat(
    port: int,
    chat_args: Sequence[str],
    env: Mapping[str, str],
    stdout_path: Path,
    stderr_path: Path,
    *,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """`python -m chat` on 127.0.0.1:``port``, its EMF lines (stdout) and its log (stderr) appended to files.

    The one launcher of the demo's chat tier and the chat tests (tests/chat/harness.py)."""
    stdout_path.parent.mkdir(parents=True, exist_ok=True)
    # The child keeps its own copies of the log files' descriptors; ours close when it has them.
    with stdout_path.open("ab") as stdout, stderr_path.open("ab") as stderr:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
            [sys.executable, "-m", "chat", "--host", "127.0.0.1", "--port", str(port), *chat_args],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=new_session,
        )


@dataclass
class LogTail:
    """The lines appended to a file since the last read (a line still being written waits)."""

    path: Path
    truncate_after_bytes: int = TRUNCATE_AFTER_BYTES
    _handle: IO[bytes] | None = None
    _partial: bytes = b""
    _read_bytes: int = 0

    def read_lines(self) -> list[str]:
        if self._handle is None:
            try:
                self._handle = self.path.open("rb")
            except FileNotFoundError:
                return []
        data = self._handle.read()
        if not data:
            return []
        self._read_bytes += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        if self._read_bytes > self.truncate_after_bytes and not self._partial:
            # A line appended between the read above and this truncation is lost: a rare surplus line
            # in live mode, where an instance prints its count every EMF interval of a real minute.
            os.truncate(self.path, 0)
            self._handle.seek(0)
            self._read_bytes = 0
        return [line.decode("utf-8", errors="replace") for line in complete]

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT_S; no-op for a process that already exited."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def redis_binary() -> str | None:
    return shutil.which("redis-server")
