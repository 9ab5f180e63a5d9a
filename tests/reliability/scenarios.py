"""The reliability scenarios, sized by their arguments: tests/reliability runs them short, bench/reliability.py full.

Each scenario builds its world in a fresh embedded AWS, delivers events to Marea's handlers
(tests/reliability/delivery.py), and returns its Figures (tests/reliability/audit.py) with every
broken invariant listed in ``problems``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from marea_local.data_stack import DataStack
from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.audit import Figures, audit, problems, read_decisions
from tests.reliability.delivery import Delivery, Plan, Report, run_concurrently, run_threads
from tests.reliability.embedded import STAGE, fresh_stack
from tests.reliability.faults import FaultPlan
from tests.reliability.world import (
    ACCOUNT,
    Fleet,
    alarm_event,
    aws_clients,
    build_fleet,
    capacity,
    group_of,
    minute,
    publish_load,
    register,
    sqs_event,
    tick_event,
)

ALARM, TICK, TASK, MESSAGE = (
    "on_alarm_state_change",
    "on_schedule_tick",
    "on_runner_task_stopped",
    "on_evaluation_message",
)


@dataclass
class Outcome:
    figures: Figures
    problems: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.problems, f"{self.figures.summary()}\n  " + "\n  ".join(self.problems)


# ---- at-least-once delivery ------------------------------------------------------------------


@dataclass(frozen=True)
class KopsWorld:
    running: str  # the decision whose runner is in flight
    queued: str  # the decision waiting for the lease
    stopped_event: dict[str, Any]  # the running task's STOPPED event


def kops_world(clients: dict[str, Any], stack: DataStack, at: datetime) -> KopsWorld:
    """A kops target whose runner is in flight with a second decision queued, both decided at ``at``."""
    from chalicelib import wiring
    from chalicelib.models.decisions import Trigger, TriggerType
    from marea_local.demo_resources import create_kops_runner_cluster, create_web_asg
    from marea_local.local_fargate import task_stopped_event
    from tests.integration.world import KOPS_CLUSTER, KOPS_IG, kops_target

    group = f"{KOPS_IG}.{KOPS_CLUSTER}"
    create_web_asg(clients["ec2"], clients["autoscaling"], group, min_size=1, max_size=20, desired=2)
    runner = create_kops_runner_cluster(clients["ec2"], clients["ecs"], stage=STAGE)
    register({**kops_target(runner), "id": "nodes"})

    def cpu(value: float) -> None:
        clients["cloudwatch"].put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "AutoScalingGroupName", "Value": group}],
                    "Timestamp": minute(at) - timedelta(minutes=m),
                    "Value": value,
                }
                for m in range(3)
            ],
        )

    def evaluate(when: datetime) -> str:
        stored = wiring.registry().require("nodes")
        trigger = Trigger(type=TriggerType.MANUAL, event_id=str(uuid.uuid4()), at=when)
        evaluator = wiring.evaluator()
        wall_clock, evaluator.clock = evaluator.clock, lambda: when  # decided at ``when``, not now
        try:
            return evaluator.evaluate(stored, trigger).id
        finally:
            evaluator.clock = wall_clock

    cpu(90)
    running = evaluate(at)  # 2 -> 4: the runner starts
    clients["autoscaling"].set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3)
    cpu(99)
    queued = evaluate(at + timedelta(seconds=30))  # 3 -> 6: waits for the lease
    [arn] = clients["ecs"].list_tasks(cluster=runner["ecs_cluster"])["taskArns"]
    [task] = clients["ecs"].describe_tasks(cluster=runner["ecs_cluster"], tasks=[arn])["tasks"]
    # What the runner writes beside its decision when it verified the new sizes.
    clients["dynamodb"].update_item(
        TableName=stack.decisions_table,
        Key={"id": {"S": running}},
        UpdateExpression="SET runner_result = :r",
        ExpressionAttributeValues={":r": {"S": json.dumps({"status": "applied", "message": "sizes verified"})}},
    )
    stopped = task_stopped_event(task, 0, "Essential container in task exited", at + timedelta(minutes=2), ACCOUNT)
    return KopsWorld(running=running, queued=queued, stopped_event=stopped)


def at_least_once(aws: EmbeddedAws, plan: Plan, seed: int = 1, max_copies: int = 5) -> Outcome:
    """One alarm event, one schedule tick and one kops task-state event, each delivered 1-``max_copies``
    times, shuffled over threads and processes that start together."""
    started = time.perf_counter()
    stack = fresh_stack(aws)
    clients = aws_clients()
    fleet = build_fleet(clients, asgs=1, services=1)
    now = datetime.now(UTC)
    publish_load(clients, fleet, now, cpu=95, connections=1_000)
    kops = kops_world(clients, stack, now - timedelta(minutes=10))  # its metrics are stale at the tick: it holds
    rng = random.Random(seed)
    alarm, tick = alarm_event("web-0", now, 95), tick_event(now)
    events = [("alarm", ALARM, alarm), ("tick", TICK, tick), ("task-state", TASK, kops.stopped_event)]
    copies = {label: rng.randint(1, max_copies) for label, _, _ in events}
    deliveries = [Delivery(label, handler, event) for label, handler, event in events for _ in range(copies[label])]

    report = run_concurrently(deliveries, plan, seed=seed)

    decisions = read_decisions(stack.decisions_table)
    expected = {alarm["id"]: {"asg-0"}, tick["id"]: {"asg-0", "svc-0", "nodes"}}
    bounds = {**fleet.bounds, "nodes": (1, 10)}
    figures = audit(Figures("at-least-once delivery"), report, decisions, expected, bounds, set(fleet.target_ids))
    figures.events = len(events)
    figures.info.append(f"copies delivered: {copies}")
    found = problems(figures)
    by_id = {d.id: d for d in decisions}
    if by_id[kops.running].outcome.value != "applied":
        found.append(f"the stopped runner's decision is {by_id[kops.running].outcome.value}, not applied")
    runner_starts = [a for a in report.actuations if a.target_id == "nodes"]
    if len(runner_starts) != 1:
        found.append(f"{len(runner_starts)} kops runners started for one task-state event (expected 1)")
    found += [f"{label} was never delivered successfully" for label in copies if label not in report.delivered]
    figures.seconds = time.perf_counter() - started
    return Outcome(figures, found)


# ---- racing evaluations ----------------------------------------------------------------------


# Why a racing evaluation did not act, most specific first (a superseded one keeps its engine reasons too).
# An ASG has no cooldown: one reading the target after the winner finds its instances warming up.
RACE_ORDER = ("CONCURRENT_EVALUATION", "ACTUATION_IN_PROGRESS", "COOLDOWN", "SCALE_OUT_IN_PROGRESS", "ABOVE_TARGET")
RACE_REASONS = set(RACE_ORDER[:4])


def racing(aws: EmbeddedAws, plan: Plan, evaluations: int = 20, seed: int = 2) -> Outcome:
    """``evaluations`` alarm events for one target, at one instant, all released at once."""
    started = time.perf_counter()
    stack = fresh_stack(aws)
    clients = aws_clients()
    fleet = build_fleet(clients, asgs=1, services=0, cooldown_s=120)
    now = datetime.now(UTC)
    events = [alarm_event("web-0", now, 95) for _ in range(evaluations)]
    deliveries = [Delivery(f"alarm-{i}", ALARM, event) for i, event in enumerate(events)]

    report = run_concurrently(deliveries, plan, seed=seed)

    decisions = read_decisions(stack.decisions_table)
    expected = {event["id"]: {"asg-0"} for event in events}
    figures = audit(Figures("racing evaluations"), report, decisions, expected, fleet.bounds, set(fleet.target_ids))
    figures.events = evaluations
    why = Counter(next((r for r in RACE_ORDER if r in {x.value for x in d.reasons}), "?") for d in decisions)
    figures.info.append("decisions by reason: " + ", ".join(f"{reason} {n}" for reason, n in sorted(why.items())))
    found = problems(figures)
    acted = [d for d in decisions if d.outcome.value in ("applied", "failed")]
    if len(acted) > 1:
        found.append(f"{len(acted)} racing evaluations acted (at most 1)")
    for decision in decisions:
        if decision in acted:
            continue
        if decision.outcome.value != "skipped" or not RACE_REASONS & {r.value for r in decision.reasons}:
            found.append(f"{decision.id} is {decision.outcome.value} with {[r.value for r in decision.reasons]}")
    if capacity(clients, "asg-0") != (acted[0].final if acted else 2):
        found.append(f"the group's capacity is {capacity(clients, 'asg-0')}, not the acting decision's final")
    figures.seconds = time.perf_counter() - started
    return Outcome(figures, found)


# ---- AWS faults ------------------------------------------------------------------------------


ROUND_MINUTES = 3  # the scale-in window of the fault scenario's targets: 3 one-minute datapoints


def aws_faults(aws: EmbeddedAws, rate: float, rounds: int, seed: int = 3, processes: int = 0) -> Outcome:
    """``rounds`` periods of load going up and down; in each an alarm event and a tick, delivered
    concurrently while ``rate`` of all HTTP attempts fail. Then, with no faults and the clock past
    the pending timeout, one more tick settles what the faults left unsettled."""
    from chalicelib import wiring

    started = time.perf_counter()
    stack = fresh_stack(aws)
    clients = aws_clients()
    fleet = build_fleet(clients, asgs=3, services=2)
    rng = random.Random(seed)
    base = minute(datetime.now(UTC))
    report, expected, delivered = Report(), {}, []
    for index in range(rounds):
        at = base + timedelta(minutes=ROUND_MINUTES * index)  # each round's datapoints its own
        cpu, connections = (95.0, 900.0) if index % 3 != 2 else (10.0, 100.0)
        publish_load(clients, fleet, at, cpu=cpu, connections=connections)
        target = rng.choice(fleet.asgs)
        alarm = alarm_event(group_of(target), at + timedelta(seconds=20), cpu)
        tick = tick_event(at + timedelta(seconds=30))
        expected[alarm["id"]], expected[tick["id"]] = {target}, set(fleet.target_ids)
        deliveries = [Delivery(f"alarm-{index}", ALARM, alarm), Delivery(f"tick-{index}", TICK, tick)]
        delivered += deliveries
        faults = FaultPlan(rate=rate, seed=seed * 1000 + index)
        report.merge(run_concurrently(deliveries, Plan(threads=2, processes=processes, faults=faults), seed=index))

    # The platform retries an invocation that kept failing later on (Lambda's asynchronous retries,
    # then the next events): once the faults stop, every event must still get its decisions.
    undecided = [d for d in delivered if d.label not in report.delivered]
    report.merge(run_threads(undecided, Plan(threads=2)))
    evaluator = wiring.evaluator()
    evaluator.clock = lambda: datetime.now(UTC) + evaluator.pending_timeout + timedelta(seconds=1)
    settle = tick_event(base + timedelta(minutes=ROUND_MINUTES * rounds))
    expected[settle["id"]] = set(fleet.target_ids)
    report.merge(run_threads([Delivery("settling tick", TICK, settle)], Plan(threads=1)))

    decisions = read_decisions(stack.decisions_table)
    name = f"AWS faults at {rate:.0%}"
    figures = audit(Figures(name), report, decisions, expected, fleet.bounds, set(fleet.target_ids))
    figures.events = len(expected)
    figures.info.append(f"{len(undecided)} of {len(delivered)} events undecided until the faults stopped")
    found = problems(figures)
    for target_id in fleet.target_ids:
        low, high = fleet.bounds[target_id]
        if not low <= capacity(clients, target_id) <= high:
            found.append(f"{target_id} ends at {capacity(clients, target_id)}, outside [{low}, {high}]")
    found += [
        f"{label} was never delivered successfully" for label in report.invocations if label not in report.delivered
    ]
    figures.seconds = time.perf_counter() - started
    return Outcome(figures, found)


# ---- load ------------------------------------------------------------------------------------


def tick_load(aws: EmbeddedAws, targets: int, plan: Plan) -> Outcome:
    """One tick over ``targets`` ECS targets through the SQS fan-out, messages handled in batches of 10."""
    started = time.perf_counter()
    stack = fresh_stack(aws)
    clients = aws_clients()
    fleet = build_fleet(clients, asgs=0, services=targets)
    now = datetime.now(UTC)
    publish_load(clients, fleet, now, cpu=0, connections=900)
    tick = tick_event(now)
    ticking = time.perf_counter()
    report = run_threads([Delivery("tick", TICK, tick)], Plan(threads=1))
    tick_s = time.perf_counter() - ticking
    batches: list[Delivery] = []
    while True:
        received = clients["sqs"].receive_message(QueueUrl=stack.evaluation_queue_url, MaxNumberOfMessages=10)
        messages = received.get("Messages", [])
        if not messages:
            break
        batches.append(Delivery(f"batch-{len(batches)}", MESSAGE, sqs_event([m["Body"] for m in messages])))
        clients["sqs"].delete_message_batch(
            QueueUrl=stack.evaluation_queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    evaluating = time.perf_counter()
    report.merge(run_concurrently(batches, plan))
    evaluation_s = time.perf_counter() - evaluating
    decisions = read_decisions(stack.decisions_table)
    figures = audit(
        Figures(f"tick over {targets} targets"), report, decisions, {tick["id"]: set(fleet.target_ids)},
        fleet.bounds, set(fleet.target_ids),
    )  # fmt: skip
    figures.events = 1
    figures.seconds = time.perf_counter() - started
    per_target = figures.calls / max(targets, 1)
    figures.info.append(
        f"tick {tick_s:.1f} s (listing and enqueueing), evaluations {evaluation_s:.1f} s "
        f"({plan.threads} threads x {plan.processes + 1} processes), {per_target:.1f} AWS calls per target"
    )
    return Outcome(figures, problems(figures))


def fleet_capacities(clients: dict[str, Any], fleet: Fleet) -> dict[str, int]:
    return {target_id: capacity(clients, target_id) for target_id in fleet.target_ids}
