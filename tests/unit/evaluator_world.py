"""A world for the evaluator's unit tests: in-memory stores, and doubles of the AWS resources.

The registry and the log are Marea's own in-memory stores (store/memory.py, held to the DynamoDB
contract by tests/integration/test_store_contract.py). The scaled resources are test doubles
because AWS cannot run here: ``MemoryGroup`` stands in for an Auto Scaling group or ECS service
(the capacity changes when ``apply`` returns), ``MemoryRunners`` for the kops runner on Fargate
(``start`` only starts a task; the test says when it stops). Their behaviour on AWS is held by the
integration tests on the embedded AWS (tests/integration/test_kops_launcher.py and others).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.actuators.base import Actuation, AnyActuator
from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.decisions import Decision, Trigger, TriggerType
from chalicelib.models.signals import AlarmObservation, Datapoint, Signal
from chalicelib.models.targets import TargetBase
from chalicelib.resource_limits import ResourceLimits
from chalicelib.service import Evaluator
from chalicelib.signal_collector import MetricKey, SharedSignals
from chalicelib.store.items import TARGET_ADAPTER
from chalicelib.store.memory import MemoryDecisionLog, MemoryTables, MemoryTargetRegistry

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TTL = timedelta(days=1)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class MemoryGroup:
    """A resource whose capacity changes when the call returns (an ASG, an ECS service): a double of AWS."""

    current: int
    applied: list[tuple[str, int]] = field(default_factory=list)

    def read(self, target: TargetBase) -> CapacityReading:
        return CapacityReading(current=self.current, serving=self.current)

    def apply(self, target: TargetBase, capacity: int, decision_id: str) -> Actuation:
        self.applied.append((decision_id, capacity))
        self.current = capacity
        return Actuation(note=f"set to {capacity}")


@dataclass
class MemoryRunners:
    """The kops runner on Fargate: a double of ECS RunTask/StopTask, with the events in the test's hands."""

    current: int
    clock: Clock
    calls: list[tuple[str, str]] = field(default_factory=list)  # ("start", decision id) / ("stop", task)
    deadlines: dict[str, datetime] = field(default_factory=dict)
    refuse_stop: bool = False
    lose_start_answer: bool = False  # the next RunTask starts its task, but its answer is lost
    on_start: Callable[[], None] | None = None  # what the test looks at while RunTask is under way

    def read(self, target: TargetBase) -> CapacityReading:
        return CapacityReading(current=self.current, serving=self.current)

    def runner_request(self, target: TargetBase, capacity: int, deadline: datetime) -> dict[str, str | int]:
        return {"capacity": capacity, "deadline": deadline.isoformat()}

    def start(self, target: TargetBase, capacity: int, decision_id: str, deadline: datetime) -> Actuation:
        if self.lose_start_answer:  # as the kops actuator reports a RunTask that may have started
            self.lose_start_answer = False
            self.calls.append(("start", decision_id))
            return Actuation(note="RunTask's answer was lost: its lease holds", pending=True)
        if self.on_start is not None:
            self.on_start()
        self.clock.advance(2)  # RunTask takes a while: the lease runs from its return
        self.calls.append(("start", decision_id))
        self.deadlines[decision_id] = deadline
        return Actuation(note=f"runner for {capacity}", pending=True, reference=f"task/{decision_id}")

    def stop(self, target: TargetBase, reference: str, reason: str) -> None:
        if self.refuse_stop:
            raise ActuationError(f"StopTask of {reference} refused")
        self.calls.append(("stop", reference))

    @property
    def started(self) -> list[str]:
        return [ref for call, ref in self.calls if call == "start"]


@dataclass
class FixedSignals:
    """The metric a target-tracking policy named "cpu" reads: one value, over the last minutes.

    Without CloudWatch's lag: the newest datapoint's period begins at the evaluation, so the value is
    taken over the units serving then (engine/serving.py sizes older periods from the units before a
    change), which is what these lease and settlement tests mean when they change the capacity.
    """

    cpu: float = 50.0

    def collect(
        self,
        target: TargetBase,
        reading: CapacityReading,
        now: datetime,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
        shared: SharedSignals | None = None,
    ) -> Signal:
        points = [Datapoint(timestamp=now - timedelta(minutes=m), value=self.cpu) for m in range(20, -1, -1)]
        return Signal(current_capacity=reading.current, serving_capacity=reading.serving, metrics={"cpu": points})

    def read_together(
        self,
        targets: Sequence[TargetBase],
        now: datetime,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
    ) -> SharedSignals:
        return SharedSignals(now=now, series={}, alarms={})  # nothing to read: collect makes its series itself


class World:
    def __init__(self, resource: AnyActuator, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.tables = MemoryTables()
        self.registry = MemoryTargetRegistry(self.tables)
        self.log = MemoryDecisionLog(self.tables)
        self.signals = FixedSignals()
        self.resource = resource
        self.evaluator = Evaluator(
            registry=self.registry,
            log=self.log,
            collector=self.signals,
            actuator_for=lambda _target: self.resource,
            decision_ttl=TTL,
            clock=self.clock,
        )

    def redeploy(self, limits: ResourceLimits) -> None:
        """The stage's allow-list or ceilings change: a new deployment, whose Lambdas build a new evaluator."""
        self.evaluator = replace(self.evaluator, limits=limits)

    def register(self, body: dict[str, Any]) -> None:
        self.registry.put(TARGET_ADAPTER.validate_python(body))

    def patch(self, target_id: str, **changes: Any) -> None:
        stored = self.registry.require(target_id)
        self.registry.put(TARGET_ADAPTER.validate_python({**stored.target.model_dump(), **changes}))

    def evaluate(self, target_id: str, event_id: str | None = None, at: datetime | None = None) -> Decision:
        trigger = Trigger(
            type=TriggerType.ALARM if event_id else TriggerType.MANUAL, event_id=event_id, at=at or self.clock()
        )
        return self.evaluator.evaluate(self.registry.require(target_id), trigger)

    def decision(self, decision_id: str) -> Decision:
        found = self.log.get(decision_id)
        assert found is not None
        return found


def cpu_policy(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "target_tracking",
        "name": "cpu",
        "metric": {"type": "predefined", "predefined": "ASGAverageCPUUtilization"},
        "target_value": 50,
        "scale_out_datapoints": 2,
        "scale_out_cooldown_s": 0,
        **overrides,
    }


def asg_body(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "web",
        "kind": "asg",
        "asg_name": "web",
        "min": 1,
        "max": 20,
        "mode": "act",
        "policies": [cpu_policy()],
        **overrides,
    }


def kops_body(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "nodes",
        "kind": "kops",
        "cluster_name": "demo.k8s.local",
        "instance_group": "nodes",
        "state_store": "s3://state",
        "min": 1,
        "max": 20,
        "mode": "act",
        "policies": [cpu_policy()],
        **overrides,
    }
