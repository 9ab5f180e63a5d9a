"""One schedule tick over many targets (default 1,000) against the embedded AWS, and the quota model.

The fleet: Auto Scaling groups and ECS services (``--ecs-share`` of them, 50 services a cluster), each
with a target-tracking policy on its own metric; every 10th group also has a step policy on its own
alarm, every 25th a predictive policy. One tick is run as deployed: the schedule handler enqueues
shares of 100 targets, each share is one `on_evaluation_message` invocation (batch size 1) that reads
its targets together. Every AWS call Marea's clients make is counted per API.

Figures printed:
- per API: calls in the tick at --targets, projected linearly to 10,000 targets, the rate that is
  per second when the tick's calls spread over the minute, the API's default quota (its source:
  docs/scaling-marea.md) and the headroom (quota / rate); for ECS's token buckets also the shortest
  spread that stays within bucket + refill;
- `read calls per target per tick: X` (the figure to compare across versions), and per kind;
- Lambda: invocations per tick, the concurrency needed to finish a tick within a minute (from the
  measured seconds per share, an upper bound: moto is slower than AWS), SQS messages and batches;
- decisions recorded (must equal the number of targets).

moto is far slower per call than AWS, so the seconds are upper bounds; the call counts are exact.

Usage: .venv/bin/python bench/tick_fanout.py [--targets 1000] [--ecs-share 0.5]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from marea_local.data_stack import create_data_stack  # noqa: E402
from marea_local.demo_resources import DEMO_AMI, default_network, managed_tag, put_alarm  # noqa: E402
from marea_local.embedded_aws import start_embedded_aws  # noqa: E402

STAGE = "bench"
SERVICES_PER_CLUSTER = 50
PROJECTED_TARGETS = 10_000
# What a tick reads: the target listing, the targets, their capacities, metrics and alarms.
READ_APIS = (
    "Query",
    "BatchGetItem",
    "GetItem",
    "DescribeAutoScalingGroups",
    "DescribeServices",
    "GetMetricData",
    "DescribeAlarms",
)


@dataclass(frozen=True)
class Quota:
    per_second: float  # the sustained rate
    burst: float | None  # a token bucket's size, where AWS publishes one
    source: str  # the section of docs/scaling-marea.md that cites it


# Default quotas per account and Region (docs/scaling-marea.md, "Default quotas"); None: no published rate.
QUOTAS: dict[str, Quota | None] = {
    "GetMetricData": Quota(500, None, "CloudWatch service quotas: GetMetricData 500/s (L-5E141212)"),
    "DescribeAlarms": Quota(9, None, "CloudWatch service quotas: DescribeAlarms 9/s (L-21CB40A4)"),
    "DescribeServices": Quota(20, 100, "ECS request throttling: service read actions 20/s, bucket 100"),
    "UpdateService": Quota(5, 50, "ECS request throttling: service modify actions 5/s, bucket 50"),
    "DescribeAutoScalingGroups": None,  # EC2 Auto Scaling: one shared bucket, rate not published
    "SetDesiredCapacity": None,
    "PutEvents": Quota(400, None, "EventBridge quotas: PutEvents 10,000/s in us-east-1, 400/s the lowest Region"),
    "SendMessageBatch": None,  # SQS standard queues: nearly unlimited API calls per second
}


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def build_fleet(count: int, ecs_share: float, now: datetime) -> list[dict[str, Any]]:
    """Create the resources and metrics in the embedded AWS; returns the target bodies."""
    ec2: Any = boto3.client("ec2")
    autoscaling: Any = boto3.client("autoscaling")
    ecs: Any = boto3.client("ecs")
    cloudwatch: Any = boto3.client("cloudwatch")
    network = default_network(ec2)
    ec2.create_launch_template(
        LaunchTemplateName="bench-lt", LaunchTemplateData={"ImageId": DEMO_AMI, "InstanceType": "t3.micro"}
    )
    ecs_count = round(count * ecs_share)
    bodies: list[dict[str, Any]] = []
    for index in range(count - ecs_count):
        name = f"web-{index:05d}"
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "bench-lt", "Version": "$Latest"},
            MinSize=1,
            MaxSize=20,
            DesiredCapacity=1,
            VPCZoneIdentifier=",".join(network.subnet_ids),
            Tags=[
                {
                    **managed_tag(STAGE),
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                    "PropagateAtLaunch": False,
                }
            ],
        )
        metric = {"namespace": "Bench/Web", "metric_name": "Requests", "dimensions": {"Group": name}}
        _publish(cloudwatch, metric, _load(index, 100), now)
        body: dict[str, Any] = {
            "id": name,
            "kind": "asg",
            "asg_name": name,
            "min": 1,
            "max": 20,
            "mode": "act",
            "policies": [_tracking("requests", metric, 100)],
        }
        if index % 10 == 0:
            put_alarm(
                cloudwatch,
                f"{name}-high",
                namespace="Bench/Web",
                metric_name="Requests",
                dimensions={"Group": name},
                threshold=1000,
            )
            body["policies"].append(
                {
                    "type": "step",
                    "name": "burst",
                    "alarm_name": f"{name}-high",
                    "adjustment_type": "change_in_capacity",
                    "steps": [{"lower_bound": 0, "adjustment": 2}],
                }
            )
        if index % 25 == 0:
            body["policies"].append(
                {
                    "type": "predictive",
                    "name": "ahead",
                    "metric": {"type": "custom", **metric, "statistic": "Sum"},
                    "unit_capacity": 100,
                    # moto's GetMetricData walks every period of the read over every datapoint stored (periods x
                    # datapoints a query): 14 days of 1-minute periods over 1,000 metrics takes it many minutes a
                    # call. Without days of history the policy still makes its own read, so the calls counted are
                    # the same as with the default 14.
                    "history_days": 0,
                }
            )
        bodies.append(body)
    for index in range(ecs_count):
        cluster, service = f"chat-{index // SERVICES_PER_CLUSTER:03d}", f"svc-{index:05d}"
        if index % SERVICES_PER_CLUSTER == 0:
            ecs.create_cluster(clusterName=cluster)
            ecs.register_task_definition(
                family=f"{cluster}-task",
                requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc",
                cpu="256",
                memory="512",
                containerDefinitions=[{"name": "chat", "image": "public.ecr.aws/marea/chat:latest", "memory": 512}],
            )
        ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=f"{cluster}-task", desiredCount=1)
        metric = {
            "namespace": "Marea/Chat",
            "metric_name": "ConnectedClients",
            "dimensions": {"ClusterName": cluster, "ServiceName": service},
        }
        _publish(cloudwatch, metric, _load(index, 400), now)
        bodies.append(
            {
                "id": service,
                "kind": "ecs",
                "cluster": cluster,
                "service": service,
                "min": 1,
                "max": 20,
                "mode": "act",
                "policies": [_tracking("connections", metric, 400)],
            }
        )
    return bodies


def _load(index: int, target_value: float) -> float:
    """At the target (the tick holds) for 49 targets in 50; twice the target (it scales out) for the 50th: 2 %
    of the targets change a tick, as in the NASA backtest's replay (639 changes in 40,000 minutes, 1.6 %)."""
    return target_value * (2 if index % 50 == 7 else 1)


def _tracking(name: str, metric: dict[str, Any], target_value: float) -> dict[str, Any]:
    return {
        "type": "target_tracking",
        "name": name,
        "metric": {"type": "custom", **metric, "statistic": "Average"},
        "target_value": target_value,
    }


def _publish(cloudwatch: Any, metric: dict[str, Any], value: float, now: datetime) -> None:
    start = _minute(now) - timedelta(minutes=19)
    cloudwatch.put_metric_data(
        Namespace=metric["namespace"],
        MetricData=[
            {
                "MetricName": metric["metric_name"],
                "Dimensions": [{"Name": k, "Value": v} for k, v in metric["dimensions"].items()],
                "Timestamp": start + timedelta(minutes=i),
                "Value": value,
            }
            for i in range(20)
        ],
    )


def quota_table(calls: Counter[str], targets: int) -> list[str]:
    scale = PROJECTED_TARGETS / targets
    lines = [
        f"{'API':28} {'calls/tick':>10} {'at 10,000':>10} {'per s':>7} {'quota/s':>8} {'headroom':>9}"
        "  shortest spread, source",
    ]
    for api in sorted(set(calls) | {a for a, q in QUOTAS.items() if q is not None}):
        measured = calls.get(api, 0)
        projected = measured * scale
        rate = projected / 60
        quota = QUOTAS.get(api)
        if quota is None:
            headroom, note = "n/a", "no published request rate" if api in QUOTAS else "capacity units, not a rate"
        else:
            headroom = "inf" if rate == 0 else f"{quota.per_second / rate:.1f}x"
            spread = ""
            if quota.burst is not None and projected > quota.burst:
                spread = f"spread >= {(projected - quota.burst) / quota.per_second:.0f} s; "
            note = spread + quota.source
        quota_text = "-" if quota is None else f"{quota.per_second:g}"
        lines.append(f"{api:28} {measured:>10} {projected:>10.0f} {rate:>7.2f} {quota_text:>8} {headroom:>9}  {note}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--ecs-share", type=float, default=0.5, help="share of the targets that are ECS services")
    args = parser.parse_args()
    server = start_embedded_aws()
    os.environ.update(server.environment())
    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"})
    try:
        stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage=STAGE)
        os.environ.update(stack.environment())
        now = datetime.now(UTC)
        started = time.perf_counter()
        bodies = build_fleet(args.targets, args.ecs_share, now)

        from chalice.test import Client

        from app import app
        from chalicelib import aws, wiring
        from chalicelib.observability import logger
        from chalicelib.store.decisions import DecisionQuery
        from chalicelib.store.items import TARGET_ADAPTER

        wiring.reset()
        # Evaluated at the instant the fleet's metrics were published: setting up 1,000 targets on moto takes
        # longer than the 3 minutes after which a metric counts as stale (every target would hold, none scale).
        wiring.use_clock(lambda: now)
        # moto answers a GetMetricData of 500 queries in seconds, more when busy (AWS in well under one): the
        # bench's CloudWatch client waits longer than Marea's 10 s, so moto's pace fails no decision.
        aws._LIMITS["cloudwatch"] = aws._Limits(read_timeout_s=120)
        # moto copies the whole table in each transaction: near 1,000 targets a registration's write outlasts
        # 10 s and botocore retries it. DynamoDB treats the retry as the same call (botocore sends the same
        # ClientRequestToken), moto runs it again and its condition fails: the bench waits for moto instead.
        aws._LIMITS["dynamodb"] = aws._Limits(read_timeout_s=120)
        for body in bodies:
            wiring.registry().put(TARGET_ADAPTER.validate_python(body))
        kinds = Counter(b["kind"] for b in bodies)
        print(
            f"set-up: {dict(kinds)} targets with their resources and metrics in {time.perf_counter() - started:.0f} s"
        )
        logger().setLevel("ERROR")
        calls: Counter[str] = Counter()
        aws.on_every_client("before-call.*.*", lambda model, **_: calls.update([model.name]))
        tick = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"],
            "detail": {},
        }
        sqs = boto3.client("sqs")
        share_seconds: list[float] = []
        with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as chalice:
            result = chalice.lambda_.invoke("on_schedule_tick", tick).payload
            tick_calls = Counter(calls)
            while True:
                messages = sqs.receive_message(QueueUrl=stack.evaluation_queue_url, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
                if not messages:
                    break
                for message in messages:  # batch size 1, as deployed: one share per invocation
                    event = chalice.events.generate_sqs_event(message_bodies=[message["Body"]])
                    start = time.perf_counter()
                    chalice.lambda_.invoke("on_evaluation_message", event)
                    share_seconds.append(time.perf_counter() - start)
                sqs.delete_message_batch(
                    QueueUrl=stack.evaluation_queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )
        made = Counter(calls)  # what the tick and its fan-out made; the decision query below is the bench's own
        recorded, cursor, failures = 0, None, []
        while True:
            page, cursor = wiring.decision_log().query(DecisionQuery(limit=500, cursor=cursor))
            recorded += len(page)
            failures += [d for d in page if d.outcome.value == "failed"]
            if cursor is None:
                break
        print(f"tick: enqueued {result['enqueued']} targets, {sum(tick_calls.values())} AWS calls ({dict(tick_calls)})")
        print()
        for line in quota_table(made, args.targets):
            print(line)
        print()
        reads = sum(made[a] for a in READ_APIS)
        print(f"read calls per target per tick: {reads / args.targets:.3f}")
        per_service = made["DescribeServices"] / max(kinds["ecs"], 1)
        per_group = made["DescribeAutoScalingGroups"] / max(kinds["asg"], 1)
        print(
            f"  of which DescribeServices {per_service:.3f} per ECS target (10 services a call), "
            f"DescribeAutoScalingGroups {per_group:.3f} per group (100 a call)"
        )
        applied = made["SetDesiredCapacity"] + made["UpdateService"]
        print(f"capacity changes in this tick: {applied} ({applied / args.targets:.1%} of the targets)")
        shares = len(share_seconds)
        per_share = statistics.median(share_seconds) if share_seconds else 0.0
        projected_shares = math.ceil(PROJECTED_TARGETS / 100)
        concurrency = math.ceil(projected_shares * per_share / 60)
        print(
            f"Lambda: {shares} share invocations (median {per_share:.2f} s each on moto); at 10,000 targets "
            f"{projected_shares} a tick: concurrency {concurrency} finishes a tick within the minute (default "
            f"1,000 a Region); SQS: {math.ceil(projected_shares / 10)} SendMessageBatch calls a tick"
        )
        failed = len(failures)
        print(f"decisions recorded: {recorded} for {args.targets} targets ({failed} failed)")
        for decision in failures[:3]:
            print(f"  failed: {decision.target_id}: {decision.error}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
