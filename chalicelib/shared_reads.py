"""The reads a batch of evaluations makes together: capacities by kind, then the signals.

One worker invocation evaluates many targets (an SQS message's share of a tick, a tick's inline
targets, an alarm's targets). Read one by one they cost about 3 calls a target; read together, a
describe call covers 100 Auto Scaling groups or 10 services of one ECS cluster and a GetMetricData
call 500 queries (docs/scaling-marea.md, "Batched reads"). Each read is the one the evaluation would
have made alone, so batched and unbatched evaluations decide alike; a call that failed fails the
evaluations that needed it, as their own call would have.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.actuators.base import ReadsMany
from chalicelib.errors import ActuationError
from chalicelib.models.capacity import CapacityReading
from chalicelib.models.location import Location
from chalicelib.models.signals import AlarmObservation, Datapoint, Signal
from chalicelib.models.state import StoredTarget
from chalicelib.models.targets import TargetBase
from chalicelib.signal_collector import MetricKey, SharedSignals


class SignalSource(Protocol):
    """What reads the engine's inputs: CloudWatch in Marea (signal_collector.py), fixed series in unit tests."""

    def collect(
        self,
        target: TargetBase,
        reading: CapacityReading,
        now: datetime,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
        shared: SharedSignals | None = None,
    ) -> Signal: ...

    def read_together(
        self,
        targets: Sequence[TargetBase],
        now: datetime,
        known_alarms: dict[str, AlarmObservation],
        known_metrics: dict[MetricKey, list[Datapoint]] | None = None,
    ) -> SharedSignals: ...


@dataclass(frozen=True)
class SharedReads:
    """What a batch of evaluations read together at ``at``: each target's capacity reading (or why it
    could not be read) by target id, and the signals of those whose capacity was read."""

    at: datetime
    readings: dict[str, CapacityReading | ActuationError]
    signals: SharedSignals


def read_together(
    targets: Sequence[StoredTarget],
    at: datetime,
    actuator_for: Callable[[Any], Any],
    collector: SignalSource,
    known_alarms: dict[str, AlarmObservation],
    known_metrics: dict[MetricKey, list[Datapoint]] | None,
) -> SharedReads:
    """Capacities first (one reader per kind: a kind whose actuator cannot read many is read by each
    evaluation itself), then the signals of the targets whose capacity was read: an evaluation that
    cannot read its capacity reads nothing else."""
    by_kind: dict[tuple[type, Location], tuple[ReadsMany, list[TargetBase]]] = {}
    for stored in targets:
        reader = actuator_for(stored.target)
        if isinstance(reader, ReadsMany):  # one reader per kind and place: its clients are that account's
            by_kind.setdefault((type(reader), stored.target.location), (reader, []))[1].append(stored.target)
    readings: dict[str, CapacityReading | ActuationError] = {}
    for reader, members in by_kind.values():
        readings.update(reader.read_many(members))
    readable = [s.target for s in targets if not isinstance(readings.get(s.target.id), ActuationError)]
    return SharedReads(
        at=at, readings=readings, signals=collector.read_together(readable, at, known_alarms, known_metrics)
    )
