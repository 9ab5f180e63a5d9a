"""The pure decisions of the demo's real chat tier: how many processes, how many clients, where, when.

- ``plan_fleet``: the ECS service's desiredCount, followed by local processes up to a cap (booting
  ones are cancelled first at scale-in, then the newest running ones, as the demo's simulated fleet does).
- ``real_clients``: how many real socket.io clients stand for the trace's chat users.
- ``spread_clients``: which instance a new client lands on (the least loaded: a load balancer's
  "least outstanding requests"), which instance a leaving client came from (the most loaded).
- ``MinuteMap``: which demo minute a wall-clock instant belongs to, for the timestamps of EMF lines.
- ``place_samples``: which EMF lines become datapoints, in which demo minute.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from marea_local.emf import EmfSample


@dataclass(frozen=True)
class FleetPlan:
    start: int  # processes to launch
    stop: tuple[str, ...]  # instances to stop (SIGTERM), booting ones first


def plan_fleet(desired: int, cap: int, running: Sequence[str], booting: Sequence[str]) -> FleetPlan:
    """Follow ``desired`` with at most ``cap`` processes; ``running`` and ``booting`` oldest first."""
    if cap < 1:
        raise ValueError("cap must be at least 1")
    wanted = max(0, min(desired, cap))
    total = len(running) + len(booting)
    if wanted >= total:
        return FleetPlan(start=wanted - total, stop=())
    surplus = total - wanted
    newest_first = [*reversed(booting), *reversed(running)]
    return FleetPlan(start=0, stop=tuple(newest_first[:surplus]))


def real_clients(users: float, *, desired: int, processes: int, users_per_client: int, max_clients: int) -> int:
    """Real clients for ``users`` chat users, one per ``users_per_client``, at most ``max_clients``.

    When the cap keeps fewer processes than ``desired`` tasks, only the running processes' share of
    the users is connected, so that each process still holds what one task of the full service
    would: the connections per task Marea reads stay those of the service it sized.
    """
    if users_per_client < 1:
        raise ValueError("users_per_client must be at least 1")
    share = 1.0 if desired <= 0 or processes >= desired else processes / desired
    return max(0, min(max_clients, round(users * share / users_per_client)))


def spread_clients(wanted: int, counts: Mapping[str, int]) -> dict[str, int]:
    """Per instance, clients to connect (> 0) or disconnect (< 0) to reach ``wanted`` in total.

    ``counts`` holds the instances that accept clients and what each holds now. Newcomers go one by
    one to the least loaded instance, leavers come from the most loaded (ties: the first listed).
    """
    if not counts:
        return {}
    load = dict(counts)
    order = {name: index for index, name in enumerate(counts)}
    change = dict.fromkeys(counts, 0)
    for _ in range(max(0, wanted - sum(load.values()))):
        name = min(load, key=lambda n: (load[n], order[n]))
        load[name] += 1
        change[name] += 1
    for _ in range(max(0, sum(load.values()) - wanted)):
        name = max(load, key=lambda n: (load[n], -order[n]))
        load[name] -= 1
        change[name] -= 1
    return {name: delta for name, delta in change.items() if delta}


@dataclass
class MinuteMap:
    """Demo minutes on the wall clock: each demo minute starts at a real instant (its mark).

    The replay compresses a minute into a fraction of a second, so an EMF line's real timestamp
    belongs to the demo minute whose mark came last before it. Instants before the first mark, and
    those after a pause (while the demo changes the clients between two minutes) until the next
    mark, belong to no minute.
    """

    _marks: list[float] = field(default_factory=list)  # real epoch seconds, increasing
    _minutes: list[datetime | None] = field(default_factory=list)

    def mark(self, real_s: float, minute: datetime) -> None:
        self._append(real_s, minute)

    def pause(self, real_s: float) -> None:
        self._append(real_s, None)

    def _append(self, real_s: float, minute: datetime | None) -> None:
        if self._marks and real_s < self._marks[-1]:
            raise ValueError("marks must not go back in time")
        self._marks.append(real_s)
        self._minutes.append(minute)

    def minute_of(self, real_s: float) -> datetime | None:
        index = bisect.bisect_right(self._marks, real_s) - 1
        return self._minutes[index] if index >= 0 else None


@dataclass
class Placement:
    placed: list[tuple[EmfSample, datetime]] = field(default_factory=list)  # (sample, its demo minute)
    surplus: int = 0  # lines after an instance's first in the same demo minute
    between_minutes: int = 0  # lines printed while no demo minute ran
    after_sigterm: int = 0  # lines printed by an instance after its SIGTERM


def place_samples(
    samples: Iterable[tuple[str, EmfSample]],
    minutes: MinuteMap,
    sigterm_at: Mapping[str, float],
    sampled: set[tuple[str, datetime]],
) -> Placement:
    """Which (instance, sample) pairs become datapoints, and in which demo minute.

    On AWS a task prints its line once a minute, and one datapoint per task per minute is what makes
    the metric's Average "connections per task". Here an instance prints many times in a compressed
    minute, so its first line in each demo minute stands for it (``sampled`` remembers, across calls,
    which (instance, minute) pairs are done, and is updated). Lines printed after the instance's
    SIGTERM (``sigterm_at``, epoch seconds) are left out: on AWS the drain lasts a fraction of the
    minute, here it would span several.
    """
    placement = Placement()
    for instance, sample in samples:
        stopped_s = sigterm_at.get(instance)
        if stopped_s is not None and sample.timestamp_ms >= stopped_s * 1000:
            placement.after_sigterm += 1
            continue
        minute = minutes.minute_of(sample.timestamp_ms / 1000)
        if minute is None:
            placement.between_minutes += 1
        elif (instance, minute) in sampled:
            placement.surplus += 1
        else:
            sampled.add((instance, minute))
            placement.placed.append((sample, minute))
    return placement
