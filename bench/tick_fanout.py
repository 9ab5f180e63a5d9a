"""One schedule tick over many targets (default 1,000) against the embedded AWS.

Figures printed: time of the tick invocation (list targets, enqueue SQS batches), time to
evaluate every target from the fan-out messages (Lambda batch size 10, as deployed), AWS calls
per target, and how many decisions were recorded (must equal the number of targets).

Usage: .venv/bin/python bench/tick_fanout.py [--targets 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marea_local.data_stack import create_data_stack  # noqa: E402
from marea_local.demo_resources import create_fargate_service  # noqa: E402
from marea_local.embedded_aws import start_embedded_aws  # noqa: E402

CLUSTER = "bench"


def target_body(index: int) -> dict[str, Any]:
    service = f"svc-{index:04d}"
    return {
        "id": service,
        "kind": "ecs",
        "cluster": CLUSTER,
        "service": service,
        "min": 1,
        "max": 10,
        "mode": "act",
        "policies": [
            {
                "type": "target_tracking",
                "name": "connections",
                "metric": {
                    "type": "custom",
                    "namespace": "Marea/Chat",
                    "metric_name": "ConnectedClients",
                    "dimensions": {"ClusterName": CLUSTER, "ServiceName": service},
                },
                "target_value": 400,
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1000)
    args = parser.parse_args()
    server = start_embedded_aws()
    os.environ.update(server.environment())
    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_METRICS_DISABLED": "1"})
    try:
        stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage="bench")
        os.environ.update(stack.environment())
        ec2, ecs, sqs = boto3.client("ec2"), boto3.client("ecs"), boto3.client("sqs")
        start = time.perf_counter()
        create_fargate_service(ec2, ecs, CLUSTER, "svc-0000", stage="bench", desired=1)
        for index in range(1, args.targets):
            ecs.create_service(
                cluster=CLUSTER, serviceName=f"svc-{index:04d}", taskDefinition="svc-0000-task", desiredCount=1
            )

        from chalice.test import Client

        from app import app
        from chalicelib import aws, wiring
        from chalicelib.observability import logger
        from chalicelib.store.decisions import DecisionQuery
        from chalicelib.store.items import TARGET_ADAPTER

        wiring.reset()
        for index in range(args.targets):
            wiring.registry().put(TARGET_ADAPTER.validate_python(target_body(index)))
        print(f"set-up: {args.targets} ECS services and targets in {time.perf_counter() - start:.0f} s")
        logger().setLevel("ERROR")
        calls: Counter[str] = Counter()
        aws.on_every_client("before-call.*.*", lambda model, **_: calls.update([model.name]))

        tick = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"],
            "detail": {},
        }
        with Client(app, stage_name="bench", project_dir=str(ROOT)) as chalice:
            start = time.perf_counter()
            result = chalice.lambda_.invoke("on_schedule_tick", tick).payload
            tick_s = time.perf_counter() - start
            tick_calls = sum(calls.values())
            print(
                f"tick: enqueued {result['enqueued']} evaluations in {tick_s:.2f} s with {tick_calls} AWS calls "
                f"({dict(calls)})"
            )
            calls.clear()
            evaluated, start = 0, time.perf_counter()
            while True:
                messages = sqs.receive_message(QueueUrl=stack.evaluation_queue_url, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
                if not messages:
                    break
                event = chalice.events.generate_sqs_event(message_bodies=[m["Body"] for m in messages])
                evaluated += len(chalice.lambda_.invoke("on_evaluation_message", event).payload)
                sqs.delete_message_batch(
                    QueueUrl=stack.evaluation_queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
            work_s = time.perf_counter() - start
            fanout_calls = dict(calls)
        recorded = 0
        cursor = None
        while True:
            page, cursor = wiring.decision_log().query(DecisionQuery(limit=500, cursor=cursor))
            recorded += len(page)
            if cursor is None:
                break
        print(
            f"fan-out: {evaluated} targets evaluated in {work_s:.1f} s on one process "
            f"({work_s / max(evaluated, 1) * 1000:.1f} ms per target, Lambda batches of 10 would run in parallel)"
        )
        per_target = sum(fanout_calls.values()) / max(evaluated, 1)
        print(f"AWS calls per fanned-out target: {per_target:.1f} ({fanout_calls})")
        print(f"decisions recorded: {recorded} for {args.targets} targets")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
