"""One `make demo --once --hold` per test module: its replay's output, then its API held open for the browser.

The demo's own test stops it last and checks everything it printed; the console's browser tests read the
API before that (the demo is 1.5-3.5 min: it runs once).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from marea_local.embedded_aws import free_port

ROOT = Path(__file__).resolve().parents[2]
REPLAYED_MINUTES = 150
# The demo takes 1.5-3.5 min on a 2-core machine, depending on what else runs: room to spare, not a timing.
DEMO_TIMEOUT_S = 600
HOLDING = "holding: the API serves on"
STOP_TIMEOUT_S = 60  # the demo's shutdown: the API, each chat process (10 s bound), redis-server, moto


@dataclass
class HeldDemo:
    process: subprocess.Popen[str]
    port: int
    chart: Path
    lines: list[str] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def aws_url(self) -> str:
        match = re.search(r"embedded AWS \(moto server\) on (http://127\.0\.0\.1:\d+)", "".join(self.lines))
        assert match, "".join(self.lines)[-2000:]
        return match[1]

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith(HOLDING):
                self.held.set()
        self.finished.set()
        self.held.set()  # an early exit releases the waiters too

    def read_errors(self) -> None:
        assert self.process.stderr is not None
        self.errors.extend(self.process.stderr)  # drained as it comes: a full pipe would stall the demo

    def stop(self) -> subprocess.CompletedProcess[str]:
        """SIGTERM (as Ctrl-C would), then everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        self.finished.wait(timeout=30)
        return subprocess.CompletedProcess(
            self.process.args, self.process.returncode, "".join(self.lines), "".join(self.errors)
        )


@pytest.fixture(scope="module", name="held_demo")
def held_demo_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeldDemo]:
    chart = tmp_path_factory.mktemp("demo") / "charts" / "backtest.png"
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "marea_local.demo",
            "--once",
            "--hold",
            "--minutes",
            str(REPLAYED_MINUTES),
            "--seconds-per-minute",
            "0",
            "--port",
            str(port),
            "--chart",
            str(chart),
            "--chat",
            "real",  # fail, rather than fall back to the simulation, if redis-server is missing
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    demo = HeldDemo(process=process, port=port, chart=chart)
    threading.Thread(target=demo.read, daemon=True).start()
    threading.Thread(target=demo.read_errors, daemon=True).start()
    if not demo.held.wait(timeout=DEMO_TIMEOUT_S):
        end(process)
        pytest.fail("the demo neither held its API nor exited in time:\n" + "".join(demo.lines)[-3000:])
    try:
        yield demo
    finally:
        end(process)


def end(process: subprocess.Popen[str]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_S. SIGKILL alone would orphan the chat
    processes, chalice local and redis-server: each runs in its own session, and only the demo's shutdown
    stops them."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
