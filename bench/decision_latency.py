"""Alarm-driven decisions against the embedded AWS: AWS calls per decision, latency, and the
decision-log query with a large log.

Figures printed:
- AWS API calls per alarm-driven decision for an ASG target, counted with botocore `before-call`
  hooks on every client Marea uses, for a decision that scales and one that holds. The goal was <= 5
  (read, capacity, commit, act, record); a scaling decision now makes 6: the claim written just
  before the cloud is called is what lets a change whose Lambda died be carried out exactly once
  (docs/aws-semantics.md, "Exactly once"), and an applied decision is also put on EventBridge
  (docs/decision-events.md): the goal is <= 7 for a scaling decision, <= 5 holding;
- wall time of one alarm-driven decision end to end (handler invoked as Lambda would, boto3 over
  HTTP to moto on 127.0.0.1): median and p95;
- wall time of GET /decisions?target=...&limit=100 with N decisions stored (default 100,000).

moto is far slower than DynamoDB per call and evaluates GSI queries by scanning in Python, so
the latencies are upper bounds for the code path, not predictions of AWS latency.

Usage: .venv/bin/python bench/decision_latency.py [--decisions 100000] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedded_stack import embedded_stack  # noqa: E402 - bench/, beside this script

from marea_local.demo_resources import create_web_asg, put_alarm  # noqa: E402
from marea_local.event_pump import EventPump  # noqa: E402

ASG = "bench-web"
ALARM = "bench-web-cpu-high"


def target_body() -> dict[str, Any]:
    return {
        "id": "web",
        "kind": "asg",
        "asg_name": ASG,
        "min": 1,
        "max": 50,
        "mode": "act",
        "scale_in_stabilization_s": 0,
        "policies": [
            {
                "type": "target_tracking",
                "name": "cpu",
                "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
                "target_value": 60,
                "scale_out_datapoints": 2,
                "scale_out_cooldown_s": 0,
            },
            {
                "type": "step",
                "name": "burst",
                "alarm_name": ALARM,
                "adjustment_type": "change_in_capacity",
                "steps": [{"lower_bound": 0, "adjustment": 2}],
                "cooldown_s": 0,
            },
        ],
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def count_calls(counter: Counter[str]) -> None:
    from chalicelib import aws

    # Every client, the ones made later included (the decision event's EventBridge client was missed when these
    # were listed by hand).
    aws.on_every_client("before-call.*.*", lambda model, **_: counter.update([model.name]))


def alarm_event(cloudwatch: Any, now: datetime) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    EventPump(cloudwatch, events.append, lambda _e: None, clock=lambda: now).step()
    alarm_events = [e for e in events if e["detail-type"] == "CloudWatch Alarm State Change"]
    if not alarm_events:
        raise SystemExit("the benchmark alarm did not fire")
    return alarm_events[0]


def bench_alarm_decisions(client: Any, autoscaling: Any, event: dict[str, Any], runs: int) -> None:
    calls: Counter[str] = Counter()
    count_calls(calls)
    scale_calls: list[int] = []
    hold_calls: list[int] = []
    latencies: list[float] = []
    for index in range(runs):
        autoscaling.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=2)  # so it scales again
        fresh = {**event, "id": str(uuid.uuid4())}
        calls.clear()
        start = time.perf_counter()
        payload = client.lambda_.invoke("on_alarm_state_change", fresh).payload
        latencies.append(time.perf_counter() - start)
        outcome = payload["decisions"][0]["outcome"]
        (scale_calls if outcome == "applied" else hold_calls).append(sum(calls.values()))
        if index == 0:
            print(f"calls of one scaling decision: {dict(calls)}")
    autoscaling.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=50)  # at max: holds
    calls.clear()
    client.lambda_.invoke("on_alarm_state_change", {**event, "id": str(uuid.uuid4())})
    hold_calls.append(sum(calls.values()))
    print(f"calls of one holding decision: {dict(calls)}")
    print(
        f"AWS API calls per alarm-driven decision (ASG): scaling {statistics.median(scale_calls):.0f}, "
        f"holding {statistics.median(hold_calls):.0f} (goal: scaling <= 7 with the claim and the event, holding <= 5)"
    )
    print(
        f"alarm-driven decision end to end ({runs} runs): median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms"
    )


def fill_decision_log(dynamodb: Any, table: str, count: int, now: datetime) -> None:
    from chalicelib.ids import decision_id
    from chalicelib.models.decisions import Action, Decision, Outcome, Trigger, TriggerType
    from chalicelib.models.targets import Mode
    from chalicelib.store.items import decision_item

    start = time.perf_counter()
    batch: list[Any] = []
    for index in range(count):
        at = now - timedelta(seconds=count - index)
        decision = Decision(
            id=decision_id(at),
            target_id="web" if index % 2 else "other",
            target_kind="asg",
            trigger=Trigger(type=TriggerType.SCHEDULE, event_id=f"fill-{index}", at=at),
            mode=Mode.ACT,
            current=2,
            proposed=2,
            final=2,
            action=Action.NONE,
            policy=None,
            outcome=Outcome.SKIPPED,
            reasons=[],
            explanation="Hold at 2.",
            policy_results=[],
            created_at=at,
        )
        batch.append({"PutRequest": {"Item": decision_item(decision, int(at.timestamp()) + 86_400)}})
        if len(batch) == 25:
            dynamodb.batch_write_item(RequestItems={table: batch})
            batch = []
        if index and index % 20_000 == 0:
            print(f"  stored {index:,} decisions ({time.perf_counter() - start:.0f} s)", flush=True)
    if batch:
        dynamodb.batch_write_item(RequestItems={table: batch})
    print(f"stored {count:,} decisions in {time.perf_counter() - start:.0f} s")


def bench_query(client: Any, runs: int) -> None:
    latencies = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.http.get("/decisions?target=web&limit=100")
        latencies.append(time.perf_counter() - start)
        if response.status_code != 200 or len(response.json_body["decisions"]) != 100:
            raise SystemExit(f"unexpected answer: {response.status_code} {response.body[:200]!r}")
    print(
        f"GET /decisions?target=web&limit=100 ({runs} runs): median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms"
    )


def alarm_world() -> tuple[Any, Any, datetime]:
    """The bench's group (desired 2 of 50), its CPU alarm and three minutes of 95 % CPU in the embedded AWS
    the environment points at: (autoscaling, cloudwatch, the current minute)."""
    ec2, autoscaling, cloudwatch = boto3.client("ec2"), boto3.client("autoscaling"), boto3.client("cloudwatch")
    create_web_asg(ec2, autoscaling, ASG, stage="bench", min_size=1, max_size=50, desired=2)
    put_alarm(
        cloudwatch,
        ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": ASG},
        threshold=80,
    )
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    cloudwatch.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "AutoScalingGroupName", "Value": ASG}],
                "Timestamp": now - timedelta(minutes=m),
                "Value": 95.0,
            }
            for m in range(3)
        ],
    )
    return autoscaling, cloudwatch, now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    with embedded_stack() as stack:
        autoscaling, cloudwatch, now = alarm_world()

        from chalice.test import Client

        from app import app
        from chalicelib import wiring
        from chalicelib.store.items import TARGET_ADAPTER

        wiring.reset()
        wiring.registry().put(TARGET_ADAPTER.validate_python(target_body()))
        from chalicelib.observability import logger

        logger().setLevel("ERROR")  # one log line per decision would bury the figures
        with Client(app, stage_name="bench", project_dir=str(ROOT)) as client:
            bench_alarm_decisions(client, autoscaling, alarm_event(cloudwatch, now + timedelta(seconds=30)), args.runs)
            fill_decision_log(boto3.client("dynamodb"), stack.decisions_table, args.decisions, now)
            bench_query(client, max(5, args.runs // 3))


if __name__ == "__main__":
    main()
