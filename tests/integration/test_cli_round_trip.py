"""`marea` against the real API (`chalice local` over the embedded AWS): put, patch, list, watch, evaluate, delete,
and the API's refusals as exit codes."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from marea_cli.main import main
from marea_local.embedded_aws import free_port
from tests.integration.world import asg_desired, asg_target, make_asg, publish_cpu

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api(data_stack: Any) -> Iterator[str]:
    """The HTTP API as `make demo` serves it; stage 'test' adds only config.json's top-level variables."""
    port = free_port()
    chalice = Path(sys.executable).with_name("chalice")
    process = subprocess.Popen(  # noqa: S603 - our own venv's chalice
        [str(chalice), "local", "--stage", "test", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
        cwd=ROOT,
        env={**os.environ, "POWERTOOLS_METRICS_DISABLED": "1", "POWERTOOLS_LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/targets", timeout=2):  # noqa: S310 - loopback
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(
                    f"chalice local did not start: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
                )
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


def line_of(stream: IO[str] | None, timeout_s: float = 30) -> str:
    """The next line ``stream`` gives within ``timeout_s`` (a process that hangs fails the test, not the run)."""
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], timeout_s)
    assert ready, f"no line within {timeout_s} s"
    return stream.readline()


def marea(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_put_patch_list_watch_evaluate_delete(api: str, clients: dict[str, Any], tmp_path: Path, capsys: Any) -> None:
    make_asg(clients, desired=2)
    body = tmp_path / "web.json"
    body.write_text(json.dumps(asg_target(mode="advise")), encoding="utf-8")
    at = ("--endpoint", api)

    assert marea(capsys, "targets", "put", "web", "--file", str(body), *at)[:2] == (
        0,
        "target web written (version 1)\n",
    )
    code, out, _ = marea(capsys, "targets", "patch", "web", "--mode", "act", *at)
    assert (code, out) == (0, "target web patched (version 2): mode act, paused no\n")
    code, out, _ = marea(capsys, "targets", "list", *at)
    assert code == 0
    assert out.splitlines()[1].split()[:5] == ["web", "asg", "act", "no", "1-10"]
    assert all(len(line) <= 80 for line in out.splitlines())

    # `watch` in another process sees the decision `evaluate` causes, and only that one; Ctrl-C ends it cleanly.
    watcher = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "marea_cli.main", "decisions", "watch", "--interval", "0.2", "--output", "json", *at],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert line_of(watcher.stderr) == "marea: watching every target; Ctrl-C ends\n"  # its first poll is done
        publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
        code, out, _ = marea(capsys, "evaluate", "web", "--output", "json", *at)
        decision = json.loads(out)
        assert (code, decision["outcome"], decision["final"]) == (0, "applied", 4)
        assert json.loads(line_of(watcher.stdout))["id"] == decision["id"]
        watcher.send_signal(signal.SIGINT)
        watched, errors = watcher.communicate(timeout=30)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, errors
    assert (watched, errors) == ("", "\nmarea: stopped watching (1 new)\n")  # nothing more, and no traceback
    assert asg_desired(clients) == 4

    code, out, _ = marea(capsys, "decisions", "list", "--target", "web", *at)
    assert code == 0
    assert decision["id"] not in out  # the table shows time, target, outcome, change and why
    assert "applied" in out.splitlines()[1]
    assert "2->4" in out.splitlines()[1]

    assert marea(capsys, "targets", "delete", "web", *at)[:2] == (0, "target web deleted\n")
    code, out, err = marea(capsys, "targets", "get", "web", *at)
    assert (code, out) == (1, "")
    assert err.startswith("marea: 404 NOT_FOUND: ")


def test_bad_input_is_refused_before_anything_is_sent_or_by_the_api_with_its_message(
    api: str, tmp_path: Path, capsys: Any
) -> None:
    at = ("--endpoint", api)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")

    code, _, err = marea(capsys, "targets", "put", "web", "--file", str(broken), *at)
    assert code == 2
    assert "broken.json is not JSON" in err
    code, _, err = marea(capsys, "targets", "patch", "web", *at)
    assert (code, err) == (2, "marea: nothing to patch: give --file, --mode or --paused\n")

    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"kind": "asg", "asg_name": "web", "min": 5, "max": 2}), encoding="utf-8")
    code, _, err = marea(capsys, "targets", "put", "web", "--file", str(invalid), *at)
    assert code == 1
    assert err.startswith("marea: 400 ") or err.startswith("marea: 422 ")
    code, out, _ = marea(capsys, "targets", "list", "--output", "json", *at)
    assert json.loads(out) == {"targets": []}  # nothing was written
    code, _, err = marea(capsys, "targets", "list", "--endpoint", "http://127.0.0.1:1")
    assert code == 4
    assert "cannot reach http://127.0.0.1:1" in err
