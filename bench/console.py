"""The console's first paint with 10,000 decisions stored: the page, then a target's timeline.

On the embedded AWS (moto server) with the API served by `chalice local`, as `make demo` serves it; 10,000
decisions of one target, one a minute, each with the 10 datapoints it read, written as put_new writes them
(BatchWriteItem of store/items.py's decision_item). Debian's Chromium driven by Playwright, a new browser
context per run (no cache): median and range of 5 runs of

- page: navigation start to the page's data painted (targets, last decisions and the first page of 50);
- timeline: the click on `timeline` to the chart drawn from the target's newest 200 decisions;
- first contentful paint, from the browser's own Performance API.

    .venv/bin/python bench/console.py [--decisions 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.ids import decision_id  # noqa: E402
from chalicelib.models.decisions import Action, Decision, Outcome, Trigger, TriggerType  # noqa: E402
from chalicelib.models.targets import Mode  # noqa: E402
from chalicelib.store.items import decision_item  # noqa: E402
from marea_local.browser import chromium  # noqa: E402
from marea_local.data_stack import create_data_stack  # noqa: E402
from marea_local.embedded_aws import environment, free_port, start_embedded_aws  # noqa: E402
from marea_local.example_targets import example_target  # noqa: E402

BATCH = 25


def seeded_decision(minute: int, start: datetime) -> Decision:
    at = start + timedelta(minutes=minute)
    current = 2 + (minute // 37) % 9
    final = current + (1 if minute % 23 == 0 else 0)
    points = [
        {"timestamp": (at - timedelta(minutes=k)).isoformat(), "value": 40 + (minute + k) % 50} for k in range(10)
    ]
    return Decision(
        id=decision_id(at),
        target_id="web",
        target_kind="asg",
        trigger=Trigger(type=TriggerType.SCHEDULE, at=at),
        mode=Mode.ACT,
        current=current,
        proposed=final,
        final=final,
        action=Action.OUT if final > current else Action.NONE,
        policy="cpu-60",
        outcome=Outcome.APPLIED if final > current else Outcome.SKIPPED,
        reasons=[],
        explanation=f"{'Scale out to' if final > current else 'Hold at'} {final}: cpu {points[0]['value']} %.",
        policy_results=[],
        inputs={"capacity": {"current": current, "in_service": current}, "metrics": {"cpu-60": points}},
        created_at=at,
    )


def seed(decisions_table: str, count: int) -> None:
    dynamodb: Any = boto3.client("dynamodb")
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=count)
    made = [seeded_decision(minute, start) for minute in range(count)]
    for first in range(0, count, BATCH):
        puts = [{"PutRequest": {"Item": decision_item(d, 2_000_000_000)}} for d in made[first : first + BATCH]]
        dynamodb.batch_write_item(RequestItems={decisions_table: puts})


def serve_api(port: int) -> subprocess.Popen[bytes]:
    chalice = Path(sys.executable).with_name("chalice")
    process = subprocess.Popen(  # noqa: S603 - our own venv's chalice
        [str(chalice), "local", "--stage", "bench", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
        cwd=ROOT,
        env={**os.environ, "POWERTOOLS_METRICS_DISABLED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/targets", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("chalice local did not start")


def measure(url: str, runs: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"page": [], "timeline": [], "fcp": []}
    with chromium() as browser:
        for _ in range(runs):
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            began = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            figures["page"].append(time.perf_counter() - began)
            fcp = page.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1")
            figures["fcp"].append(float(fcp) / 1000)
            began = time.perf_counter()
            page.locator("#targets tr[data-target=web] button[data-action=timeline]").click()
            page.wait_for_function("() => Chart.getChart('timeline') && state.timelineDecisions.length > 0")
            figures["timeline"].append(time.perf_counter() - began)
            assert page.locator("#decisions tbody tr").count() == 50  # one page, whatever is stored
            page.context.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    aws = start_embedded_aws()
    api: subprocess.Popen[bytes] | None = None
    try:
        with environment({**aws.environment(), "POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_LOG_LEVEL": "ERROR"}):
            stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage="bench")
            with environment(stack.environment()):
                from chalicelib import wiring
                from chalicelib.store.items import TARGET_ADAPTER

                wiring.reset()
                wiring.registry().put(TARGET_ADAPTER.validate_python(example_target("web")))
                began = time.perf_counter()
                seed(stack.decisions_table, args.decisions)
                print(f"seeded {args.decisions:,} decisions of 'web' in {time.perf_counter() - began:.1f} s")
                port = free_port()
                api = serve_api(port)
                figures = measure(f"http://127.0.0.1:{port}/console", args.runs)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=10)
        aws.stop()
    for name, label in (
        ("page", "console first paint (targets, last decisions, a page of 50)"),
        ("fcp", "first contentful paint (Performance API)"),
        ("timeline", "timeline of 'web' drawn (200 newest decisions)"),
    ):
        values = figures[name]
        print(
            f"{label}: median {statistics.median(values) * 1000:.0f} ms "
            f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, {len(values)} runs, "
            f"{args.decisions:,} decisions stored)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
