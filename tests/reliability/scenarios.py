"""The reliability scenarios, sized by their arguments: tests/reliability runs them short, bench/reliability.py full.

Each scenario builds its world in a fresh embedded AWS, delivers events to Marea's handlers
(tests/reliability/delivery.py), and returns its Figures (tests/reliability/audit.py) with every
broken invariant listed in ``problems``.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from marea_local.data_stack import DataStack
from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.audit import Figures, audit, problems, read_decisions
from tests.reliability.delivery import Delivery, Plan, Report, run_concurrently, run_threads
from tests.reliability.embedded import STAGE, forget_wiring, fresh_stack
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

if TYPE_CHECKING:
    from marea_local.local_fargate import LocalFargate
    from tests.reliability.runners import SimulatedClock

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
    from marea_local.demo_resources import create_kops_runner_cluster, create_web_asg, runner_environment
    from marea_local.local_fargate import task_stopped_event
    from tests.integration.world import KOPS_CLUSTER, KOPS_IG, KOPS_STATE_STORE, kops_target

    group = f"{KOPS_IG}.{KOPS_CLUSTER}"
    create_web_asg(clients["ec2"], clients["autoscaling"], group, stage=STAGE, min_size=1, max_size=20, desired=2)
    runner = create_kops_runner_cluster(
        clients["ec2"],
        clients["ecs"],
        stage=STAGE,
        kops_cluster=KOPS_CLUSTER,
        state_store=KOPS_STATE_STORE,
        instance_groups=[KOPS_IG],
    )
    os.environ.update(runner_environment(runner))
    forget_wiring()
    register({**kops_target(), "id": "nodes"})

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
    cpu(200)  # the minutes average 145 %, measured over the 2 before the 3rd came into service
    queued = evaluate(at + timedelta(seconds=30))  # ceil(2 x 145 / 50) = 6: waits for the lease
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
    """One tick over ``targets`` ECS targets through the SQS fan-out: shares of 100 targets, one message per
    invocation (batch size 1, as deployed)."""
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
        batches += [
            Delivery(f"share-{len(batches) + i}", MESSAGE, sqs_event([m["Body"]])) for i, m in enumerate(messages)
        ]
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


# ---- kops runners under faults ---------------------------------------------------------------


RUNNER_CALLS = ("ecs.RunTask", "ecs.StopTask")
# The group's CPU, a level a minute: about 2x and 1.5x the size, then (once 2 minutes are low) 0.6x and 0.24x.
CPU_LEVELS = (95.0, 75.0, 30.0, 12.0)
# What the target goes through while a decision waits for the lease, each for two rounds.
TARGET_CHANGES: tuple[dict[str, Any], ...] = ({"paused": True}, {"mode": "advise"}, {"max": "below the queued size"})
LATE_ROUNDS = 3  # a late task-state event comes 3 rounds (3 simulated minutes) later: after the 2-minute lease
HANG_ROUNDS = 2  # a hung runner is not run for 2 rounds: its lease expires first
CHANGE_EVERY = 4  # rounds by which each target change is made, with no decision waiting if need be


@dataclass
class RunnerFates:
    """What the scenario did to the runners and their task-state events (seeded)."""

    rng: random.Random
    delivered: int = 0
    duplicated: int = 0
    late: int = 0
    lost: int = 0
    hung: int = 0
    stopped_before_run: int = 0
    undelivered: int = 0
    changes: list[str] = field(default_factory=list)

    def copies(self, event: dict[str, Any], index: int) -> list[tuple[int, dict[str, Any]]]:
        """(round due, event) for each copy to deliver: 1-3 next round (a third duplicated), late, or none (lost)."""
        roll = self.rng.random()
        if roll < 0.15:
            self.lost += 1
            return []
        if roll < 0.35:
            self.late += 1
            return [(index + LATE_ROUNDS, event)]
        copies = self.rng.choice((1, 1, 1, 1, 2, 3))
        self.delivered += 1
        self.duplicated += copies > 1
        return [(index + 1, event)] * copies

    def summary(self) -> str:
        return (
            f"task-state events: delivered {self.delivered} ({self.duplicated} of them 2-3 times), "
            f"late {self.late}, lost {self.lost}; runners hung past their lease {self.hung}, "
            f"stopped by Marea before they ran {self.stopped_before_run}; target changes: "
            + ", ".join(self.changes or ["none"])
            + f"; {self.undelivered} deliveries undelivered until the faults stopped"
        )


@dataclass
class KopsRun:
    """The kops fault scenario's moving parts: clock, Fargate, the events held back, the target's changes."""

    clients: dict[str, Any]
    runner: dict[str, Any]
    clock: SimulatedClock
    fates: RunnerFates
    fargate: LocalFargate = field(init=False)
    mailbox: list[dict[str, Any]] = field(default_factory=list)
    held: list[tuple[int, Delivery]] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    expected: dict[str, set[str]] = field(default_factory=dict)
    level: float = CPU_LEVELS[1]
    recent: list[float] = field(default_factory=list)  # the CPU of each minute so far
    hang_until: int = -1
    change_until: int | None = None
    events: int = 0
    sent: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        from marea_local.local_fargate import LocalFargate
        from tests.reliability.runners import runner_on

        self.fargate = LocalFargate(self.clients["ecs"], runner_on(self.clock), self.mailbox.append, account=ACCOUNT)

    def round(self, index: int, plan: Plan) -> None:
        """One simulated minute. The alarm event (on the 3 minutes before) races some of the task-state events
        due; then the minute's own CPU is published and the tick (30 s in) races the others; while a decision
        waits for the lease the target may change; then Fargate runs the runners started (unless hung)."""
        from tests.reliability.runners import GROUP, set_alarm

        self.clock.now = self.clock.now + timedelta(minutes=1)
        at = self.clock.now
        alarm = alarm_event(GROUP, at, set_alarm(self.clients, self.recent), recent=self.recent[-3:])
        tick = tick_event(at + timedelta(seconds=30))
        self.expected[alarm["id"]] = {"nodes"}  # an alarm evaluates its targets, paused ones too (they hold)
        self.events += 2
        due = [d for when, d in self.held if when <= index]
        self.held = [(when, d) for when, d in self.held if when > index]
        # Each task-state event due races the alarm or the tick (at random); its further copies race the tick.
        firsts = [d for d in due if d.label.endswith("#0") and self.fates.rng.random() < 0.5]
        self._race([Delivery(f"alarm-{index}", ALARM, alarm), *firsts], plan, index)
        self.change_target(index)
        if self.fates.rng.random() < 0.5:
            self.level = self.fates.rng.choice(CPU_LEVELS)
        self.publish()
        self.expected[tick["id"]] = set() if self._stored().target.paused else {"nodes"}  # a tick skips paused ones
        self._race([Delivery(f"tick-{index}", TICK, tick), *(d for d in due if d not in firsts)], plan, index)
        self.change_target(index)
        if index >= self.hang_until and self.fates.rng.random() < 0.25 and self._stored().state.in_flight:
            self.hang_until = index + HANG_ROUNDS
            self.fates.hung += 1
        if index >= self.hang_until:
            self.run_fargate(index)

    def _race(self, deliveries: list[Delivery], plan: Plan, seed: int) -> None:
        random.Random(seed).shuffle(deliveries)
        self.sent += deliveries
        self.report.merge(run_threads(deliveries, plan))

    def publish(self) -> None:
        """The CPU of the clock's minute."""
        from tests.reliability.runners import publish_cpu

        publish_cpu(self.clients, self.clock.now, self.level)
        self.recent.append(self.level)

    def run_fargate(self, index: int, *, fates: bool = True) -> None:
        """Run the runner tasks not run yet; their STOPPED events meet their fates (or are all due next round)."""
        self.mailbox.clear()
        self.fargate.step(self.clock.now + timedelta(seconds=20))
        for event in self.mailbox:
            self.events += 1
            self.fates.stopped_before_run += "exitCode" not in event["detail"]["containers"][0]
            copies = self.fates.copies(event, index) if fates else [(index + 1, event)]
            label = f"task-state {event['detail']['startedBy']}"
            self.held += [(when, Delivery(f"{label} #{n}", TASK, copy)) for n, (when, copy) in enumerate(copies)]

    def change_target(self, index: int) -> None:
        """While a decision waits for the lease (or, if none has by round 4, 8, 12, while a runner is in flight):
        pause the target, switch it to advise, lower its max below the size waiting (each in turn, for two
        rounds), as PUT /targets does; then put it back."""
        from tests.reliability.runners import kops_body

        if self.change_until is not None and index >= self.change_until:
            register(kops_body())
            self.change_until = None
        state = self._stored().state
        done = len(self.fates.changes)
        waiting = state.queued or (state.in_flight if index >= CHANGE_EVERY * (done + 1) else None)
        if self.change_until is not None or done == len(TARGET_CHANGES) or waiting is None or waiting.capacity < 2:
            return
        change = dict(TARGET_CHANGES[done])
        if "max" in change:
            change["max"] = waiting.capacity - 1
        register(kops_body(**change))
        self.change_until = index + 2
        kind = "queued" if waiting is state.queued else "in flight"
        self.fates.changes.append(f"{change} at round {index} ({kind}: {waiting.capacity})")

    def _stored(self) -> Any:
        from chalicelib import wiring

        return wiring.registry().require("nodes")

    def settle(self, index: int) -> None:
        """The faults are over: what was never delivered is delivered, the held events too; the clock moves
        past the lease until no runner is in flight; then one last change, made without faults."""
        from tests.reliability.runners import HIGH, group_sizes, kops_body

        register(kops_body())  # as registered at the start, whatever change was still in force
        undelivered = [d for d in self.sent if d.label not in self.report.delivered]
        self.fates.undelivered = len(undelivered)
        self._deliver([*undelivered, *(d for _, d in self.held)])
        for step in range(6):
            state = self._stored().state
            if state.in_flight is None and state.queued is None:
                break
            self._tick(index + step, minutes=3)
        current = group_sizes(self.clients)[2]
        self.level = CPU_LEVELS[0] if current < HIGH else CPU_LEVELS[3]
        self._tick(index + 6, minutes=3)  # 3 minutes at the new level: enough for a scale-in too (2)

    def _tick(self, index: int, minutes: int) -> None:
        """Move the clock ``minutes`` on (past the lease), a tick, Fargate, and its events delivered at once."""
        from tests.reliability.runners import set_alarm

        for _ in range(minutes):
            self.clock.now = self.clock.now + timedelta(minutes=1)
            self.publish()
        set_alarm(self.clients, self.recent)
        tick = tick_event(self.clock.now)
        self.expected[tick["id"]] = {"nodes"}
        self.events += 1
        self._deliver([Delivery(f"settling tick {index}", TICK, tick)])
        self.run_fargate(index, fates=False)
        self._deliver([d for _, d in self.held])

    def _deliver(self, deliveries: list[Delivery]) -> None:
        self.held = []
        self.sent += deliveries
        self.report.merge(run_threads(deliveries, Plan(threads=2)))

    def world(self) -> Any:
        from tests.reliability.audit import RunnerWorld
        from tests.reliability.runners import group_sizes, instance_group_sizes, runner_tasks

        state = self._stored().state
        return RunnerWorld(
            target_id="nodes",
            tasks=runner_tasks(self.clients, self.runner["ecs_cluster"]),
            lease={run.decision_id for run in (state.in_flight, state.queued) if run is not None},
            state_store=instance_group_sizes(),
            group=group_sizes(self.clients),
        )


def kops_faults(aws: EmbeddedAws, rate: float, rounds: int, seed: int = 4, runner_rate: float | None = None) -> Outcome:
    """A kops target through ``rounds`` simulated minutes of changing load: each an alarm event and a tick
    delivered with the task-state events due, concurrently, while ``rate`` of all HTTP attempts of Marea's
    clients fail (RunTask and StopTask at ``runner_rate``). The real runner runs for each task (LocalFargate);
    its STOPPED event is delivered (sometimes 2-3 times), late (after the lease passed) or never; some
    runners hang past their lease; the target is paused, switched to advise and its max lowered while a
    decision waits. Then, without faults, everything is delivered and the runners settle."""
    from chalicelib import wiring
    from tests.reliability.audit import audit_runners
    from tests.reliability.runners import RunnerWitness, SimulatedClock, build_kops_world

    started = time.perf_counter()
    stack = fresh_stack(aws)
    clients = aws_clients()
    runner = build_kops_world(clients)
    clock = SimulatedClock(minute(datetime.now(UTC)) - timedelta(minutes=3))
    wiring.evaluator().clock = clock
    run = KopsRun(clients, runner, clock, RunnerFates(random.Random(seed)))
    for _ in range(3):  # the minutes before the first round, at a level that holds
        clock.now += timedelta(minutes=1)
        run.publish()
    witness = RunnerWitness(clients, runner["ecs_cluster"])
    hot = tuple((operation, rate if runner_rate is None else runner_rate) for operation in RUNNER_CALLS)
    with witness.installed():
        for index in range(rounds):
            faults = FaultPlan(rate=rate, seed=seed * 1000 + index, operation_rates=hot)
            run.round(index, Plan(threads=2, faults=faults))
        run.settle(rounds)

    decisions = read_decisions(stack.decisions_table)
    name = f"kops runners, AWS faults at {rate:.0%}"
    figures = audit(Figures(name), run.report, decisions, run.expected, {}, set())
    audit_runners(figures, run.report, witness.starts, decisions, run.world())
    figures.events = run.events
    faulted = ", ".join(f"{op} {run.report.faulted_calls[op]}" for op in RUNNER_CALLS)
    figures.info += [f"attempts faulted: {faulted}", run.fates.summary(), _runner_reasons(decisions)]
    found = problems(figures)
    found += [
        f"{label} was never delivered successfully"
        for label in run.report.invocations
        if label not in run.report.delivered
    ]
    figures.seconds = time.perf_counter() - started
    return Outcome(figures, found)


def _runner_reasons(decisions: list[Any]) -> str:
    """How the kops decisions ended, by the reason that says most."""
    order = ("RUNNER_TIMEOUT", "RUNNER_FAILED", "RUNNER_NOT_STOPPED", "SUPERSEDED", "ACTUATION_FAILED",
             "EVALUATION_FAILED", "RESOURCE_UNREADABLE", "CONCURRENT_EVALUATION", "RUNNER_BUSY",
             "ACTUATION_IN_PROGRESS", "RUNNER_STARTED", "PAUSED", "ADVISE_MODE")  # fmt: skip
    why = Counter(
        f"{d.outcome.value} {next((r for r in order if r in {x.value for x in d.reasons}), 'other')}" for d in decisions
    )
    late = sum(1 for d in decisions if "late_completion" in d.inputs)
    return (
        "kops decisions: " + ", ".join(f"{k} {n}" for k, n in sorted(why.items())) + f"; late completions noted {late}"
    )
