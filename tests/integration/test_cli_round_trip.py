"""`marea` against the real API (`chalice local` over the embedded AWS): put, patch, list, watch, evaluate, delete,
and the API's refusals as exit codes."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from marea_cli.client import ApiClient
from marea_cli.endpoints import resolve
from marea_cli.main import main
from marea_cli.proxy import make_server, serve_in_background
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


class Lines:
    """A process's output stream read line by line on a thread, each line waited for at most ``timeout_s`` (a
    process that hangs fails the test, not the run)."""

    def __init__(self, stream: IO[str] | None, timeout_s: float = 30) -> None:
        assert stream is not None
        self.timeout_s, self.queue = timeout_s, queue.Queue[str]()
        self.reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.queue.put(line)

    def next(self) -> str:
        try:
            return self.queue.get(timeout=self.timeout_s)
        except queue.Empty:
            raise AssertionError(f"no line within {self.timeout_s} s") from None

    def rest(self) -> list[str]:
        """The lines not taken yet, once the stream has ended (its process exited)."""
        self.reader.join(timeout=self.timeout_s)
        return list(self.queue.queue)


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
    out_lines, err_lines = Lines(watcher.stdout), Lines(watcher.stderr)
    try:
        assert err_lines.next() == "marea: watching every target; Ctrl-C ends\n"  # its first poll is done
        publish_cpu(clients["cloudwatch"], "web", [90, 90, 90])
        code, out, _ = marea(capsys, "evaluate", "web", "--output", "json", *at)
        decision = json.loads(out)
        assert (code, decision["outcome"], decision["final"]) == (0, "applied", 4)
        # Printed once per outcome: a poll during the actuation sees it `pending` first.
        outcomes = [json.loads(out_lines.next())]
        while outcomes[-1]["outcome"] != "applied":
            outcomes.append(json.loads(out_lines.next()))
        assert {d["id"] for d in outcomes} == {decision["id"]}
        assert [d["outcome"] for d in outcomes] in (["applied"], ["pending", "applied"])
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=30) == 0
        assert [err_lines.next(), err_lines.next()] == ["\n", "marea: stopped watching\n"]
    finally:
        watcher.kill()
    assert (out_lines.rest(), err_lines.rest()) == ([], [])  # nothing more printed, and no traceback
    assert asg_desired(clients) == 4

    code, out, _ = marea(capsys, "decisions", "list", "--target", "web", *at)
    assert code == 0
    assert decision["id"] not in out  # the table shows time, target, outcome, change and why
    assert "applied" in out.splitlines()[1]
    assert "2->4" in out.splitlines()[1]

    # The console's forwarder in front of the real API: a merge patch, its If-Match and a read go through as sent.
    proxy = make_server(ApiClient(resolve(api, None, False, ROOT)))
    serve_in_background(proxy)
    try:
        base = f"http://127.0.0.1:{proxy.server_port}"
        patch = urllib.request.Request(  # noqa: S310 - loopback
            f"{base}/targets/web",
            data=b'{"paused": true}',
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json", "Origin": base},
        )
        with urllib.request.urlopen(patch, timeout=30) as answer:  # noqa: S310 - loopback
            assert (answer.status, json.loads(answer.read())["paused"]) == (200, True)
        stale = urllib.request.Request(  # noqa: S310 - loopback
            f"{base}/targets/web",
            data=b'{"paused": false}',
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json", "If-Match": '"2"'},  # it is at 3 now
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(stale, timeout=30)  # noqa: S310 - loopback
        assert refused.value.code == 412  # the API's answer to a stale page, not a silent overwrite
        with urllib.request.urlopen(f"{base}/decisions?target=web&limit=1", timeout=30) as answer:  # noqa: S310
            assert [d["id"] for d in json.loads(answer.read())["decisions"]] == [decision["id"]]
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert marea(capsys, "targets", "get", "web", "--output", "json", *at)[1].count('"paused": true') == 1

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
