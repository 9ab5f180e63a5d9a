"""The demo's HTTP API: `chalice local --stage local` in a process of its own, and the checks `--once` makes of it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

from marea_local.demo.chat_tier import RealChat
from marea_local.demo.display import say
from marea_local.demo.scene import ROOT, api_examples, backtest_requests
from marea_local.embedded_aws import PortUnavailable, check_port_free

API_START_TIMEOUT_S = 60  # chalice local imports the app and binds: seconds on a busy 2-core machine


class ApiProcess:
    def __init__(self, port: int, verbose: bool) -> None:
        self.port = port
        self.verbose = verbose
        self.process: subprocess.Popen[bytes] | None = None

    def check_port(self) -> None:
        """Before the replay, not after it: the API's port is the one users type, so it is fixed, and may be held."""
        try:
            check_port_free(self.port)
        except PortUnavailable as exc:
            raise SystemExit(
                f"the HTTP API's port 127.0.0.1:{exc.port} is not free ({exc.reason}): is another demo running? "
                f"Stop it, or pick another port: make demo PORT=<port> (or DEMO_ARGS=--port <port>)"
            ) from exc

    def serve(self, aws_url: str) -> None:
        port = self.port
        chalice = Path(sys.executable).with_name("chalice")
        self.process = subprocess.Popen(  # noqa: S603 - fixed argument list, our own venv's chalice
            [str(chalice), "local", "--stage", "local", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL if not self.verbose else None,
            stderr=subprocess.DEVNULL if not self.verbose else None,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + API_START_TIMEOUT_S
        last_error = "no answer yet"
        while True:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"chalice local exited with {self.process.returncode}; is port {port} free? (PORT= changes it)"
                )
            try:
                with urllib.request.urlopen(f"{base}/targets", timeout=2):  # noqa: S310 - loopback only
                    break
            except OSError as exc:  # refused, timed out, or an HTTPError (5xx): not serving yet
                last_error = str(exc)
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"chalice local did not answer GET /targets on {base} within {API_START_TIMEOUT_S:g} s "
                    f"({last_error}); DEMO_ARGS=--verbose shows its log"
                )
            time.sleep(0.3)
        say("")
        say(f"console: {base}/console (targets, timelines, decisions; docs/console.md)")
        say(f"HTTP API (chalice local --stage local) on {base}. Try:")
        for line in api_examples(base, aws_url):
            say(f"  {line}")

    def check(self, chat: RealChat | None) -> bool:
        url = f"http://127.0.0.1:{self.port}/decisions?target=web&limit=3"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        latest = body["decisions"][0] if body["decisions"] else None
        say(
            f"API check: GET /decisions?target=web&limit=3 -> {len(body['decisions'])} decisions; latest: "
            f"{latest['explanation'] if latest else 'none'}"
        )
        backtests_ok = self.check_backtests()
        return bool(body["decisions"]) and backtests_ok and (chat is None or self.check_chat_metric(chat))

    def check_backtests(self) -> bool:
        """The POST /backtest examples the demo prints answer, on its own targets, step policies and all."""
        ok = True
        for body in backtest_requests():
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/backtest",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
                    result = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                say(f"API check: POST /backtest {json.dumps(body)} -> {exc.code} {exc.read().decode()[:300]}")
                ok = False
                continue
            current, proposed = result["current"], result["proposed"]
            say(
                f"API check: POST /backtest {json.dumps(body)} -> {result['minutes']} minutes of "
                f"{result['demand_formula']}; under-provisioned minutes {current['label']} "
                f"{current['summary']['under_provisioned_minutes']} vs {proposed['label']} "
                f"{proposed['summary']['under_provisioned_minutes']}, unit-hours "
                f"{current['summary']['unit_hours']:.1f} vs {proposed['summary']['unit_hours']:.1f}"
            )
        return ok

    def check_chat_metric(self, chat: RealChat) -> bool:
        """The latest chat decision that read ConnectedClients read what the real chat's EMF lines put."""
        url = f"http://127.0.0.1:{self.port}/decisions?target=chat&limit=100"
        with urllib.request.urlopen(url, timeout=10) as response:
            decisions = json.loads(response.read())["decisions"]
        for decision in decisions:
            points = decision["inputs"].get("metrics", {}).get("connections-per-task", [])
            if not points:
                continue
            matched = [p for p in points if chat.published_matches(datetime.fromisoformat(p["timestamp"]), p["value"])]
            values = ", ".join(f"{p['value']:g}" for p in points[-5:])
            say(
                f"API check: GET /decisions?target=chat -> the latest decision on the chat's metric read "
                f"{len(points)} ConnectedClients per task datapoints (last: {values}); {len(matched)} of them "
                f"are what the awslogs stand-in put from the real chat instances' EMF lines; it says: "
                f"{decision['explanation']}"
            )
            return len(matched) == len(points)
        say("API check: GET /decisions?target=chat -> no decision read ConnectedClients")
        return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        say(f"stopping: the HTTP API (chalice local, pid {self.process.pid}) on 127.0.0.1:{self.port}")
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
