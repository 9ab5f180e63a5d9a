"""`make demo` unattended: the replay scales both workloads, then the API answers over HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from marea_local.embedded_aws import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_replays_the_spike_scales_out_and_serves_the_api() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "marea_local.demo",
            "--once",
            "--minutes",
            "150",
            "--seconds-per-minute",
            "0",
            "--port",
            str(free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, output[-3000:] + result.stderr[-3000:]
    assert "web applied: Scale out from 2 to" in output
    assert "chat applied: Scale out from" in output
    assert "nodes pending: Scale out from 2 to" in output  # the kops instance group, through the runner
    assert "nodes applied: the kops runner finished; instance group nodes size" in output
    assert "API check: GET /decisions?target=web&limit=3 -> 3 decisions" in output
    assert "Traceback" not in output + result.stderr
