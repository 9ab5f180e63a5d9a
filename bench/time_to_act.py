"""Time to act: how long a step in load goes unanswered, on the embedded AWS with a simulated clock.

For each case a fresh Auto Scaling group (or, for the ECS cases, a Fargate service) and Marea target, a
custom load metric at the case's period and, for a step policy, its alarm (1 of 1 above 70). The load is
30, then 90 from a known instant T0 on (a period boundary): the first datapoint above the threshold is the
one stamped T0. The world then runs on a simulated clock in steps of 10 s: a period's datapoint is put when
the period closes (a custom metric put as it is measured; AWS's own service metrics arrive later, which is
part of AWS's figure), the event pump evaluates the alarms as often as CloudWatch does (every 10 s for a 10
or 30 s period, and assumed for 20 s; once a minute for any other: marea_local/event_pump.py) and delivers
the state changes, and the schedule ticks every minute (EventBridge's rate(1 minute), the shortest it
has). Marea's handlers run in this process, on the simulated clock.

Printed per case: the simulated time from T0 to Marea's capacity call (SetDesiredCapacity, UpdateService, or
for a kops instance group the RunTask of the runner that resizes it), median and range over the runs (where in a
minute CloudWatch evaluates an alarm and a schedule fires is not published, so the runs spread that phase
over the minute and over the 10 s step: marea_local/event_pump.py's phase_s; the alarms' and the
schedule's phase move together), and Marea's own share in wall time: the event handed to
the warm handler, in this process, until the call leaves (no EventBridge delivery, Lambda invoke or cold
start: docs/cold-start.md), median and p95 (interpolated).
Beside them, AWS's published figures for ECS services (aws/containers-roadmap#2113, docs/time-to-act.md):
363 s from a load increase to the scale-out being triggered with 1-minute metrics, 86 s with its 20-second
metrics.

Target tracking is evaluated on the schedule's ticks and, when its policy names a trigger alarm, at once when
that alarm changes state: here AWS's own target-tracking alarm (3 of 3 periods above the target). One case
runs it without one, on the ticks alone: its window plus the wait for the next tick.

Usage: .venv/bin/python bench/time_to_act.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedded_stack import embedded_stack  # noqa: E402 - bench/, beside this script

from marea_local.demo_resources import (  # noqa: E402
    create_fargate_service,
    create_kops_runner_cluster,
    create_web_asg,
    runner_environment,
)
from marea_local.event_pump import EventPump  # noqa: E402
from marea_local.kops_local import seed_kops_cluster  # noqa: E402

NAMESPACE = "Marea/Bench"
METRIC = "Load"
QUIET, LOADED = 30.0, 90.0
THRESHOLD = 70.0  # the step policy's alarm
TARGET_VALUE = 50.0  # target tracking's
STEP_S = 10  # the simulated clock's step: CloudWatch's shortest evaluation interval
GIVE_UP_AFTER = timedelta(minutes=15)
# AWS's own figures for ECS services' target tracking (aws/containers-roadmap#2113): load increase to scale-out
# triggered, with 1-minute and with 20-second metrics. None published at 10 s.
AWS_SECONDS = {60: 363, 20: 86}


@dataclass(frozen=True)
class Case:
    label: str
    policy: str  # "step" or "target_tracking"
    period_s: int
    trigger: bool = True  # target tracking: with a trigger alarm (AWS's own: 3 of 3 above the target)
    kind: str = "asg"  # "asg" (SetDesiredCapacity), "ecs" (UpdateService) or "kops" (RunTask of the runner)


CASES = (
    Case("target tracking, default windows, at 60 s", "target_tracking", 60),
    Case("step 1-of-1 at 60 s", "step", 60),
    Case("target tracking, default windows, at 20 s", "target_tracking", 20),
    Case("step 1-of-1 at 20 s", "step", 20),
    Case("target tracking, default windows, at 10 s", "target_tracking", 10),
    Case("step 1-of-1 at 10 s", "step", 10),
    Case("target tracking at 10 s, no trigger alarm (ticks only)", "target_tracking", 10, trigger=False),
    Case("ECS service, step 1-of-1 at 60 s", "step", 60, kind="ecs"),
    Case("ECS service, step 1-of-1 at 10 s", "step", 10, kind="ecs"),
    Case("kops instance group, step 1-of-1 at 60 s", "step", 60, kind="kops"),
    Case("kops instance group, step 1-of-1 at 10 s", "step", 10, kind="kops"),
)
CLUSTER = "tta"
KOPS_CLUSTER, KOPS_BUCKET = "tta.k8s.local", "marea-tta-kops-state"
KOPS_STORE = f"s3://{KOPS_BUCKET}"
# The call that changes capacity, per target kind, and the argument naming the resource (a kops change is the
# runner's RunTask, in the runner's cluster: the runner resizes the instance group after it, in its own time).
CAPACITY_CALLS: dict[str, tuple[str, str | None]] = {
    "asg": ("SetDesiredCapacity", "AutoScalingGroupName"),
    "ecs": ("UpdateService", "service"),
    "kops": ("RunTask", None),
}
TRACKING_DATAPOINTS = 3  # target tracking's default scale-out window, and AWS's alarm: 3 of 3 above the target


@dataclass
class Run:
    """One case's world: its names, the simulated clock, and what the capacity call recorded."""

    name: str
    kind: str
    spike: datetime  # T0: the first period of the higher load
    now: datetime
    delivered_at: float = 0.0  # wall clock when the current event was handed to Marea
    acted_at: datetime | None = None  # simulated clock at SetDesiredCapacity
    share_s: float | None = None


def target_body(case: Case, name: str) -> dict[str, Any]:
    metric = {
        "type": "custom",
        "namespace": NAMESPACE,
        "metric_name": METRIC,
        "dimensions": {"Target": name},
        "statistic": "Average",
        "period_s": case.period_s,
    }
    if case.policy == "step":
        policy: dict[str, Any] = {
            "type": "step",
            "name": "burst",
            "alarm_name": f"{name}-high",
            "adjustment_type": "change_in_capacity",
            "steps": [{"lower_bound": 0, "adjustment": 2}],
        }
    else:
        policy = {"type": "target_tracking", "name": "load", "metric": metric, "target_value": TARGET_VALUE}
        if case.trigger:
            policy["trigger_alarm"] = f"{name}-high"
    where: dict[str, Any] = {
        "asg": {"kind": "asg", "asg_name": name},
        "ecs": {"kind": "ecs", "cluster": CLUSTER, "service": name},
        "kops": {"kind": "kops", "cluster_name": KOPS_CLUSTER, "instance_group": name, "state_store": KOPS_STORE},
    }[case.kind]
    return {"id": name, **where, "min": 1, "max": 50, "mode": "act", "policies": [policy]}


def create_scaled_resource(case: Case, name: str, world: dict[str, Any]) -> None:
    """The case's resource, at 2 units: an Auto Scaling group, a Fargate service or a kops instance group."""
    ec2, autoscaling = world["ec2"], world["autoscaling"]
    if case.kind == "asg":
        create_web_asg(ec2, autoscaling, name, stage="bench", min_size=1, max_size=50, desired=2)
    elif case.kind == "ecs":
        create_fargate_service(ec2, world["ecs"], CLUSTER, name, stage="bench", desired=2)
    else:
        seed_kops_cluster(world["s3"], autoscaling, ec2, KOPS_BUCKET, KOPS_CLUSTER, name, 2, 2)


def put_case_alarm(case: Case, name: str, cloudwatch: Any) -> bool:
    """The step policy's alarm (1 of 1 above 70), or target tracking's trigger (AWS's own alarm for the policy:
    3 of 3 above the target); False when the case has none."""
    if case.policy != "step" and not case.trigger:
        return False
    datapoints = 1 if case.policy == "step" else TRACKING_DATAPOINTS
    cloudwatch.put_metric_alarm(
        AlarmName=f"{name}-high",
        Namespace=NAMESPACE,
        MetricName=METRIC,
        Dimensions=[{"Name": "Target", "Value": name}],
        Statistic="Average",
        Period=case.period_s,
        EvaluationPeriods=datapoints,
        DatapointsToAlarm=datapoints,
        Threshold=THRESHOLD if case.policy == "step" else TARGET_VALUE,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="missing",
        ActionsEnabled=False,
    )
    return True


def run_name(case: Case, index: int) -> str:
    return f"tta-{case.kind}-{case.policy.replace('_', '-')}-{case.period_s}-{'t' if case.trigger else 'n'}-{index}"


def put_load(cloudwatch: Any, case: Case, name: str, starts: list[datetime], value: float) -> None:
    """One datapoint per period, stamped at the period's start (high resolution below a minute)."""
    for first in range(0, len(starts), 500):
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": METRIC,
                    "Dimensions": [{"Name": "Target", "Value": name}],
                    "Timestamp": start,
                    "Value": value,
                    "StorageResolution": 1 if case.period_s < 60 else 60,
                }
                for start in starts[first : first + 500]
            ],
        )


def run_case(case: Case, index: int, runs: int, world: dict[str, Any], client: Any) -> Run:
    from chalicelib import wiring
    from chalicelib.store.items import TARGET_ADAPTER

    cloudwatch = world["cloudwatch"]
    name = run_name(case, index)
    create_scaled_resource(case, name, world)
    alarmed = put_case_alarm(case, name, cloudwatch)
    # T0 well in the past of the wall clock (CloudWatch takes datapoints up to two weeks old), on a minute.
    spike = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    period = timedelta(seconds=case.period_s)
    quiet_starts = [spike - period * n for n in range(1, int(timedelta(minutes=20) / period) + 1)]
    put_load(cloudwatch, case, name, quiet_starts, QUIET)
    # Where in a minute CloudWatch evaluates an alarm and a rate schedule fires is not published: the runs spread
    # their phase over the minute (the clock steps on it, so each evaluation is on time).
    phase_s = (index * 60 // runs) // STEP_S * STEP_S + index % STEP_S  # over the minute and within the step
    run = Run(
        name=name, kind=case.kind, spike=spike, now=spike - timedelta(minutes=1) + timedelta(seconds=phase_s % STEP_S)
    )
    wiring.registry().put(TARGET_ADAPTER.validate_python(target_body(case, name)))
    world["current"] = run

    def deliver(handler: str) -> Callable[[dict[str, Any]], None]:
        def handle(event: dict[str, Any]) -> None:
            run.delivered_at = time.perf_counter()
            client.lambda_.invoke(handler, event)

        return handle

    pump = EventPump(
        cloudwatch,
        deliver("on_alarm_state_change"),
        deliver("on_schedule_tick"),
        clock=lambda: run.now,
        phase_s=phase_s,
    )
    published = spike
    while run.acted_at is None and run.now - spike < GIVE_UP_AFTER:
        closed = _starts(published, run.now, period)
        if closed:
            put_load(cloudwatch, case, name, closed, LOADED)
            published = closed[-1] + period
        pump.step(run.now)
        if run.acted_at is None:
            run.now += timedelta(seconds=STEP_S)
    wiring.registry().delete(name)
    if alarmed:
        cloudwatch.delete_alarms(AlarmNames=[f"{name}-high"])
    if run.acted_at is None:
        raise SystemExit(f"{case.label}: Marea did not act within {GIVE_UP_AFTER}")
    return run


def _starts(first: datetime, now: datetime, period: timedelta) -> list[datetime]:
    """Starts of the periods from ``first`` that have closed by ``now``."""
    starts = []
    while first + period <= now:
        starts.append(first)
        first += period
    return starts


def record_capacity_calls(world: dict[str, Any]) -> None:
    from chalicelib import aws

    def on_call(model: Any, params: dict[str, Any], **_: Any) -> None:
        run: Run | None = world.get("current")
        if run is None:
            return
        call, naming = CAPACITY_CALLS[run.kind]
        if model.name != call or (naming is not None and params.get(naming) != run.name):
            return
        if run.acted_at is None:
            run.acted_at = run.now
            run.share_s = time.perf_counter() - run.delivered_at

    aws.on_every_client("before-parameter-build.*.*", on_call)  # params: the call's own arguments


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs per case (Marea's share: median and p95)")
    args = parser.parse_args()
    with embedded_stack():
        from chalice.test import Client

        from app import app
        from chalicelib import wiring
        from chalicelib.observability import logger

        # The kops runner's cluster and task definition, pinned to every instance group the runs will make.
        kops_groups = [run_name(case, index) for case in CASES if case.kind == "kops" for index in range(args.runs)]
        runner = create_kops_runner_cluster(
            boto3.client("ec2"),
            boto3.client("ecs"),
            stage="bench",
            kops_cluster=KOPS_CLUSTER,
            state_store=KOPS_STORE,
            instance_groups=kops_groups,
        )
        os.environ.update(runner_environment(runner))
        wiring.reset()
        logger().setLevel("ERROR")
        world: dict[str, Any] = {
            "ec2": boto3.client("ec2"),
            "autoscaling": boto3.client("autoscaling"),
            "cloudwatch": boto3.client("cloudwatch"),
            "ecs": boto3.client("ecs"),
            "s3": boto3.client("s3"),
        }
        wiring.use_clock(lambda: world["current"].now)
        record_capacity_calls(world)
        with Client(app, stage_name="bench", project_dir=str(ROOT)) as client:
            for case in CASES:
                runs = [run_case(case, index, args.runs, world, client) for index in range(args.runs)]
                report(case, runs)


def report(case: Case, runs: list[Run]) -> None:
    seconds = [(r.acted_at - r.spike).total_seconds() for r in runs if r.acted_at is not None]
    shares = [r.share_s for r in runs if r.share_s is not None]
    figure = f"{statistics.median(seconds):.0f} s ({min(seconds):.0f}-{max(seconds):.0f} s)"
    p95 = statistics.quantiles(shares, n=20, method="inclusive")[-1] if len(shares) > 1 else shares[0]
    aws = AWS_SECONDS.get(case.period_s)
    beside = f"AWS: {aws} s" if aws else "AWS: no published figure at this period"
    print(
        f"time to act, {case.label}: {figure} (Marea's share, warm and in-process: median "
        f"{statistics.median(shares):.2f} s, p95 {p95:.2f} s, {len(shares)} runs); {beside} "
        "(ECS target tracking)",
        flush=True,
    )


if __name__ == "__main__":
    main()
