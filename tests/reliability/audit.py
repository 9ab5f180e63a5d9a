"""Read back what happened (the decision log, the resources) and check it against what was delivered.

The figures of RELIABILITY.md come from here: events, deliveries, faults injected, decisions by
outcome, actuations, double actuations, lost and duplicated decisions, HTTP attempts per call.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

from chalicelib import aws
from tests.reliability.delivery import Report
from tests.reliability.runners import RunnerStart

ACTUATION_CALLS = ("autoscaling.SetDesiredCapacity", "ecs.UpdateService", "ecs.RunTask")
# botocore standard retry mode as chalicelib/aws.py configures it (4).
MAX_ATTEMPTS = aws.MAX_ATTEMPTS


def read_decisions(table: str) -> list[Any]:
    """Every decision in the log (a Scan: the test's own reader, never Marea's code path); the
    events' dedup keys beside them are not decisions."""
    from chalicelib.store.items import decision_from_item

    client = boto3.client("dynamodb")
    decisions: list[Any] = []
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        decisions.extend(decision_from_item(item) for item in page["Items"] if "doc" in item)  # type: ignore[arg-type]
    return decisions


@dataclass
class Figures:
    """One scenario's row of RELIABILITY.md."""

    scenario: str
    events: int = 0
    deliveries: int = 0  # handler invocations, redeliveries included
    faults: Counter[str] = field(default_factory=Counter)
    decisions: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    actuations: int = 0
    double_actuations: int = 0
    lost: int = 0
    duplicated: int = 0
    pending: int = 0
    out_of_bounds: int = 0
    runs_not_allowed: int = 0  # kops runners started for a target paused or in advise mode at that moment
    overlapping_runners: int = 0  # kops runners started while another of the target's tasks was still running
    max_attempts: int = 0
    attempts: Counter[int] = field(default_factory=Counter)
    calls: int = 0
    seconds: float = 0.0
    anomalies: list[str] = field(default_factory=list)  # broken invariants found by ``audit``
    info: list[str] = field(default_factory=list)  # figures worth printing that are not invariants

    def summary(self) -> str:
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        faults = sum(self.faults.values())
        by_kind = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return (
            f"{self.scenario}: {self.events} events, {self.deliveries} deliveries, {faults} faults injected"
            f"{f' ({by_kind})' if by_kind else ''}, {self.calls} AWS calls (max {self.max_attempts} attempts each), "
            f"{self.decisions} decisions ({outcomes}), {self.actuations} actuations, "
            f"double actuations {self.double_actuations}, lost {self.lost}, duplicated {self.duplicated}, "
            f"pending {self.pending}, out of bounds {self.out_of_bounds}, {self.seconds:.1f} s"
            + "".join(f"; {line}" for line in self.info)
        )


def audit(
    figures: Figures,
    report: Report,
    decisions: list[Any],
    expected: dict[str, set[str]],
    bounds: dict[str, tuple[int, int]],
    synchronous: set[str],
) -> Figures:
    """Fill ``figures`` from the log and the probes.

    ``expected``: event id -> the targets that event must have exactly one decision for.
    ``bounds``: target -> (min, max). ``synchronous``: targets whose decisions must not stay pending.
    """
    figures.deliveries = sum(report.invocations.values())
    figures.faults.update(report.faults)
    figures.decisions = len(decisions)
    figures.outcomes.update(d.outcome.value for d in decisions)
    figures.reasons.update(r.value for d in decisions for r in d.reasons)
    figures.calls = sum(report.calls.values())
    figures.attempts.update(report.attempts)
    figures.max_attempts = max(report.attempts, default=0)
    per_event = Counter((d.trigger.event_id, d.target_id) for d in decisions if d.trigger.event_id is not None)
    figures.duplicated = sum(n - 1 for n in per_event.values() if n > 1)
    figures.lost = sum(1 for event, targets in expected.items() for t in targets if per_event[(event, t)] == 0)
    figures.pending = sum(1 for d in decisions if d.outcome.value == "pending" and d.target_id in synchronous)
    per_decision = Counter(a.decision_id for a in report.actuations)
    figures.actuations = len(report.actuations)
    figures.double_actuations = sum(n - 1 for n in per_decision.values() if n > 1)
    figures.out_of_bounds = sum(
        1
        for a in report.actuations
        if a.target_id in bounds and not bounds[a.target_id][0] <= a.capacity <= bounds[a.target_id][1]
    )
    notes = Counter(_recovery(d) for d in decisions)
    recovered = ", ".join(f"{kind} {n}" for kind, n in sorted(notes.items()) if kind)
    if recovered:
        figures.info.append(f"recovered: {recovered}")
    # A RunTask asked again with its client token (kops.KopsActuator._ask_again) is the same actuation.
    actuation_calls = sum(report.calls[name] for name in ACTUATION_CALLS if name != "ecs.RunTask")
    actuation_calls += len(report.run_task_tokens)
    if actuation_calls != figures.actuations:
        figures.anomalies.append(f"{actuation_calls} actuation calls for {figures.actuations} actuations")
    unexplained = [d.id for d in decisions if d.outcome.value == "failed" and not d.error]
    if unexplained:
        figures.anomalies.append(f"failed without an error: {unexplained}")
    unknown = {a.decision_id for a in report.actuations} - {d.id for d in decisions}
    if unknown:
        figures.anomalies.append(f"actuations by decisions not in the log: {sorted(unknown)}")
    return figures


@dataclass(frozen=True)
class RunnerWorld:
    """What a kops target's runners left behind: moto's tasks, the lease, the sizes (read at the end)."""

    target_id: str
    tasks: list[dict[str, Any]]  # every runner task, stopped ones included
    lease: set[str]  # the decisions the lease holds: in flight and queued
    state_store: tuple[int, int]  # the instance group's (minSize, maxSize)
    group: tuple[int, int, int]  # its Auto Scaling group's (MinSize, MaxSize, DesiredCapacity)


def audit_runners(
    figures: Figures, report: Report, starts: list[RunnerStart], decisions: list[Any], world: RunnerWorld
) -> None:
    """The kops runners' invariants: at most one task per decision, none started on a paused or advise
    target or outside its [min, max] as it was then, never two at once, nothing pending once its runner
    is done, and the instance group at the size the newest applied decision set."""
    calls = Counter(a.decision_id for a in report.actuations if a.target_id == world.target_id)
    tasks = Counter(str(t.get("startedBy")) for t in world.tasks)
    started_twice = {d: n for d, n in calls.items() if n > 1}
    if started_twice:
        figures.anomalies.append(f"runners started more than once for one decision: {started_twice}")
    doubled = {d: n for d, n in tasks.items() if n > max(calls[d], 1)}
    figures.double_actuations += sum(n - max(calls[d], 1) for d, n in doubled.items())
    if doubled:
        figures.anomalies.append(f"runner tasks started more than once for one decision: {doubled}")
    for start in starts:
        if start.paused or start.mode != "act":
            figures.runs_not_allowed += 1
            figures.anomalies.append(f"runner of {start.decision_id} started on a target paused or in {start.mode}")
        if not start.low <= start.capacity <= start.high:
            figures.out_of_bounds += 1
        if start.others_running:
            figures.overlapping_runners += 1
            figures.anomalies.append(f"runner of {start.decision_id} started while {start.others_running} ran")
    ours = [d for d in decisions if d.target_id == world.target_id]
    stray = [d.id for d in ours if d.outcome.value == "pending" and d.id not in world.lease]
    figures.pending += len(stray)
    if stray:
        figures.anomalies.append(f"kops decisions pending with no runner in flight or queued: {stray}")
    _audit_final_size(figures, ours, world)


def _audit_final_size(figures: Figures, decisions: list[Any], world: RunnerWorld) -> None:
    applied = sorted((d for d in decisions if d.outcome.value == "applied" and d.action.value != "none"), key=_id)
    if not applied:
        figures.anomalies.append("no kops decision was applied")
        return
    size = applied[-1].final
    if world.state_store != (size, size) or world.group != (size, size, size):
        figures.anomalies.append(
            f"the instance group ends at {world.state_store} (state store), {world.group} (ASG), not at {size}, "
            f"the size the newest applied decision {applied[-1].id} set"
        )


def _id(decision: Any) -> str:
    return str(decision.id)


def _recovery(decision: Any) -> str:
    """How a decision's outcome was established when the straight path failed ('' when it did not)."""
    note = str(decision.inputs.get("actuation") or "")
    reasons = {r.value for r in decision.reasons}
    if note.startswith("confirmed by a later evaluation"):
        return "outcome recorded by the next evaluation"
    if note.startswith("the call reported an error"):
        return "actuation confirmed by re-reading after an error"
    if "ACTUATION_UNCONFIRMED" in reasons:
        return "unconfirmed actuation failed after the pending timeout"
    if "EVALUATION_FAILED" in reasons:
        return "evaluation failed on AWS errors"
    return ""


def problems(figures: Figures) -> list[str]:
    """Every broken invariant, in words (empty: all held)."""
    found = [
        f"{name} = {value}"
        for name, value in (
            ("double actuations", figures.double_actuations),
            ("lost decisions", figures.lost),
            ("duplicated decisions", figures.duplicated),
            ("pending decisions", figures.pending),
            ("actuations out of bounds", figures.out_of_bounds),
            ("runners started on a paused or advise target", figures.runs_not_allowed),
            ("runners started while another ran", figures.overlapping_runners),
        )
        if value
    ]
    if figures.max_attempts > MAX_ATTEMPTS:
        found.append(f"a call made {figures.max_attempts} attempts (> {MAX_ATTEMPTS})")
    return found + figures.anomalies


def combined(name: str, runs: list[Figures]) -> Figures:
    """The figures of several runs of one scenario, added up (max attempts: the largest)."""
    total = Figures(name)
    for run in runs:
        total.events += run.events
        total.deliveries += run.deliveries
        total.faults.update(run.faults)
        total.decisions += run.decisions
        total.outcomes.update(run.outcomes)
        total.reasons.update(run.reasons)
        total.actuations += run.actuations
        total.double_actuations += run.double_actuations
        total.lost += run.lost
        total.duplicated += run.duplicated
        total.pending += run.pending
        total.out_of_bounds += run.out_of_bounds
        total.runs_not_allowed += run.runs_not_allowed
        total.overlapping_runners += run.overlapping_runners
        total.attempts.update(run.attempts)
        total.max_attempts = max(total.max_attempts, run.max_attempts)
        total.calls += run.calls
        total.seconds += run.seconds
        total.anomalies += run.anomalies
    return total


TABLE_HEADER = (
    "| Scenario | Events | Deliveries | Faults injected | AWS calls (max attempts) | Decisions | Actuations "
    "| Double actuations | Lost | Duplicated | Pending | Out of bounds | Time |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def table_row(figures: Figures) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(figures.outcomes.items()))
    return (
        f"| {figures.scenario} | {figures.events} | {figures.deliveries} | {sum(figures.faults.values())} "
        f"| {figures.calls} ({figures.max_attempts}) | {figures.decisions} ({outcomes}) | {figures.actuations} "
        f"| {figures.double_actuations} | {figures.lost} | {figures.duplicated} | {figures.pending} "
        f"| {figures.out_of_bounds} | {figures.seconds:.0f} s |"
    )
