"""The demo's chat tier, for real: chat processes sized by Marea, real clients, the chat's own metric.

Each demo minute (``begin`` then ``finish``):

1. the chat processes follow the ECS service's desiredCount that Marea sets (at most
   ``max_instances`` processes): new ones are launched and serve from the next minute, as a
   Fargate task does once it is healthy; removed ones are deregistered (their clients reconnect
   to the others) and get SIGTERM, and the chat drains and exits;
2. real socket.io clients connect and disconnect to follow the trace's chat users, one real client
   for ``USERS_PER_CLIENT`` users, spread over the healthy instances;
3. each instance prints its ConnectedClients EMF line every ``EMF_INTERVAL_S`` (CHAT_METRICS_INTERVAL_S:
   the replay compresses a minute into a fraction of a second); the awslogs stand-in reads every
   instance's stdout and turns the lines into PutMetricData on the embedded CloudWatch, in the demo
   minute their timestamps fall in, values times ``USERS_PER_CLIENT``. As on AWS, where a task prints
   once a minute, one line per instance per demo minute becomes a datapoint (the first), so the
   metric's Average is the connections per task. Marea's ``chat`` target reads that metric, as
   registered, and its alarm is evaluated from it.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from marea_local.chat_processes import ChatProcess, ChatProcessError, LogTail, RedisProcess, redis_binary
from marea_local.demo.chat_clients import ClientPool
from marea_local.demo.chat_plan import MinuteMap, place_samples, plan_fleet, real_clients, spread_clients
from marea_local.emf import EmfError, EmfSample, parse_emf_line, put_metric_data_requests

NAMESPACE, METRIC_NAME = "Marea/Chat", "ConnectedClients"  # what chat/metrics.py prints
USERS_PER_CLIENT = 20  # one real socket.io client stands for this many chat users
DEFAULT_MAX_INSTANCES = 6  # chat processes at once: about 65 MB each, the demo stays light on 2 cores
MAX_REAL_CLIENTS = 400
EMF_INTERVAL_S = 0.05
DRAIN_TIMEOUT_S = 2.0  # CHAT_DRAIN_TIMEOUT_S: a deregistered instance has no clients left to wait for
BOOT_TIMEOUT_S = 20.0
FRESH_LINE_TIMEOUT_S = 2.0
SETTLE_TIMEOUT_S = 1.0
SAME_VALUE = 1e-9


def unavailable_reason() -> str | None:
    """Why the real chat tier cannot run here, or None when it can."""
    if redis_binary() is None:
        return (
            "redis-server is not on PATH (Debian package redis-server: `make chat-deps` as root installs it, "
            "or apt-get install redis-server)"
        )
    missing = [name for name in ("socketio", "aiohttp", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        return f"Python packages {', '.join(missing)} are missing from the venv (make venv installs them)"
    return None


class EmfCollector:
    """What the instances printed: the awslogs stand-in tails each instance's stdout file."""

    def __init__(self, poll_every_s: float = 0.005) -> None:
        self._tails: dict[str, LogTail] = {}
        self._pending: list[tuple[str, EmfSample]] = []
        self._latest_ms: dict[str, int] = {}
        self._poll_every_s = poll_every_s
        self.lines = 0
        self.invalid: list[str] = []

    def follow(self, instance: str, path: Path) -> None:
        self._tails[instance] = LogTail(path)

    def forget(self, instance: str) -> None:
        """An instance that exited: read what it printed last, then stop following it."""
        tail = self._tails.pop(instance, None)
        if tail is not None:
            self._feed_lines(instance, tail.read_lines())
            tail.close()

    def close(self) -> None:
        for tail in self._tails.values():
            tail.close()
        self._tails.clear()

    def poll(self) -> None:
        for instance, tail in self._tails.items():
            self._feed_lines(instance, tail.read_lines())

    def _feed_lines(self, instance: str, lines: list[str]) -> None:
        for line in lines:
            self.feed(instance, line)

    def feed(self, instance: str, line: str) -> None:
        try:
            samples = parse_emf_line(line)
        except EmfError as exc:
            self.invalid.append(f"{instance}: {exc}")
            return
        if samples:
            self.lines += 1
            self._pending.extend((instance, sample) for sample in samples)
            self._latest_ms[instance] = max(self._latest_ms.get(instance, 0), samples[0].timestamp_ms)

    def wait_fresh(self, instances: list[str], since_ms: int, timeout_s: float) -> list[str]:
        """Wait until each instance printed a line stamped at or after ``since_ms``; returns the late ones."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            late = [name for name in instances if self._latest_ms.get(name, 0) < since_ms]
            if not late or time.monotonic() >= deadline:
                return late
            time.sleep(self._poll_every_s)

    def take(self) -> list[tuple[str, EmfSample]]:
        self.poll()
        pending, self._pending = self._pending, []
        return pending


@dataclass
class _Minute:
    """What ``begin`` decided, for ``finish``."""

    minute: datetime
    mark_s: float
    desired: int
    users: float
    served_users: float
    serving: list[str]
    clients: int


@dataclass
class ChatTally:
    launched: int = 0
    sigterms: int = 0
    exits: dict[str, int | None] = field(default_factory=dict)  # instance -> exit code after SIGTERM
    peak_processes: int = 0
    peak_clients: int = 0
    datapoints: int = 0
    dropped_after_sigterm: int = 0
    between_minutes: int = 0
    surplus: int = 0
    capped_minutes: int = 0


class RealChat:
    """The chat service of the demo, run as real processes; see the module docstring."""

    def __init__(
        self,
        *,
        read_desired: Callable[[], int],
        cloudwatch: Any,
        cluster: str,
        service: str,
        unit_capacity: float,
        demand_scale: float,
        max_instances: int,
        stop: threading.Event,
    ) -> None:
        self.read_desired = read_desired
        self.cloudwatch = cloudwatch
        self.cluster, self.service = cluster, service
        self.unit_capacity = unit_capacity
        self.demand_scale = demand_scale
        self.max_instances = max_instances
        self.stop = stop
        self.collector = EmfCollector()
        self.pool = ClientPool()
        self.minutes = MinuteMap()
        self.tally = ChatTally()
        self.instances: list[ChatProcess] = []  # serving or booting, oldest first
        self.stopping: list[ChatProcess] = []  # SIGTERM sent, not yet exited
        self.notes: list[str] = []
        self.workdir: Path | None = None
        self.redis: RedisProcess | None = None
        # demo minute -> (sum, count) of ConnectedClients published so far, and every average it had
        self._published: dict[datetime, tuple[float, float]] = {}
        self._averages: dict[datetime, list[float]] = {}
        self._launched_in: dict[str, int] = {}
        self._sigterm_at: dict[str, float] = {}  # instance -> epoch seconds of its SIGTERM
        self._sampled: set[tuple[str, datetime]] = set()  # (instance, demo minute) already forwarded
        self._step = 0
        self._sequence = 0
        self._current: _Minute | None = None

    # ---- life cycle ------------------------------------------------------------------------------
    def start(self) -> str:
        """Redis, the client loop and the service's current tasks, healthy; returns a description."""
        binary = redis_binary()
        if binary is None:
            raise ChatProcessError("redis-server is not on PATH")
        self.workdir = Path(tempfile.mkdtemp(prefix="marea-demo-chat-"))
        self.redis = RedisProcess(self.workdir, binary)
        self.redis.start()
        self.pool.start()
        desired = self.read_desired()
        for _ in range(min(desired, self.max_instances)):
            self._launch()
        for instance in self.instances:
            instance.wait_healthy(BOOT_TIMEOUT_S, self.stop)
        self.notes.clear()
        return (
            f"redis-server on 127.0.0.1:{self.redis.port}, {len(self.instances)} `python -m chat` instances "
            f"({', '.join(f'{i.name} :{i.port}' for i in self.instances)})"
        )

    def close(self) -> None:
        """Clients first, then every instance (SIGTERM to all, then wait), then Redis; idempotent."""
        try:
            self.pool.close()
        finally:
            try:
                everyone = self.instances + self.stopping
                for instance in everyone:
                    instance.terminate()
                for instance in everyone:
                    instance.stop()
                self.instances, self.stopping = [], []
            finally:
                self.collector.close()
                if self.redis is not None:
                    self.redis.stop()
                    self.redis = None
                if self.workdir is not None:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                    self.workdir = None

    # ---- one demo minute ----------------------------------------------------------------------------
    def begin(self, minute: datetime, requests: int) -> None:
        """Follow desiredCount, place the minute's clients, and mark where the minute starts."""
        self._step += 1
        self.notes = []
        # Lines printed while the clients change belong to neither minute (on AWS that moment is a
        # sliver of a 60 s minute; here it is a good part of a compressed one).
        self.minutes.pause(time.time())
        self._reap()
        self._admit_booted()
        desired = self.read_desired()
        self._follow(desired)
        serving = [i for i in self.instances if i.healthy]
        processes = min(desired, self.max_instances)
        if desired > self.max_instances:
            self.tally.capped_minutes += 1
        users = requests * self.demand_scale
        wanted = real_clients(
            users,
            desired=desired,
            processes=processes,
            users_per_client=USERS_PER_CLIENT,
            max_clients=MAX_REAL_CLIENTS,
        )
        clients = self._place_clients(wanted, serving)
        mark_s = time.time()
        self.minutes.mark(mark_s, minute)
        served = users if desired <= processes else users * processes / desired
        self._current = _Minute(minute, mark_s, desired, users, served, [i.name for i in serving], clients)
        self.tally.peak_processes = max(self.tally.peak_processes, len(self.instances) + len(self.stopping))
        self.tally.peak_clients = max(self.tally.peak_clients, clients)

    def finish(self) -> dict[str, Any]:
        """Forward the EMF lines (waiting for one from each serving instance since the mark)."""
        current = self._current
        if current is None:
            raise RuntimeError("finish() without begin()")
        late = self.collector.wait_fresh(current.serving, int(current.mark_s * 1000), FRESH_LINE_TIMEOUT_S)
        if late:
            self.notes.append(f"chat: no EMF line from {', '.join(late)} within {FRESH_LINE_TIMEOUT_S:g} s")
        self._forward()
        total, count = self._published.get(current.minute, (0.0, 0.0))
        return {
            "desired": current.desired,
            "ready": len(current.serving),
            "demand": current.served_users,
            "metric": total / count if count else math.nan,
            "clients": current.clients,
            "notes": list(self.notes),
        }

    # ---- the parts -------------------------------------------------------------------------------
    def _launch(self) -> ChatProcess:
        if self.workdir is None or self.redis is None:
            raise ChatProcessError("start() first: there is no Redis to connect the chat to")
        self._sequence += 1
        instance = ChatProcess(
            name=f"chat-{self._sequence}",
            workdir=self.workdir,
            redis_url=self.redis.url,
            environment={
                "CHAT_METRICS_INTERVAL_S": str(EMF_INTERVAL_S),
                "CHAT_DRAIN_TIMEOUT_S": str(DRAIN_TIMEOUT_S),
                "CHAT_CLUSTER_NAME": self.cluster,
                "CHAT_SERVICE_NAME": self.service,
            },
        )
        instance.launch()
        self.collector.follow(instance.name, instance.stdout_path)
        self.instances.append(instance)
        self._launched_in[instance.name] = self._step
        self.tally.launched += 1
        return instance

    def _reap(self) -> None:
        for instance in list(self.stopping):
            code = instance.exited()
            if code is not None:
                self.stopping.remove(instance)
                self.tally.exits[instance.name] = code
                self.collector.forget(instance.name)
                instance.stop()
                drained = "drained and exited 0" if code == 0 else f"exited {code}"
                self.notes.append(f"chat: {instance.name} {drained} after its SIGTERM")
        for instance in list(self.instances):
            code = instance.exited()
            if code is not None:
                self.instances.remove(instance)
                self.collector.forget(instance.name)
                self.pool.drop(instance.name)
                self.notes.append(f"chat: {instance.name} died (exit {code}): {instance.log_tail()[-300:]}")

    def _admit_booted(self) -> None:
        """Instances launched in an earlier minute serve now: a Fargate task is healthy within a minute."""
        for instance in list(self.instances):
            if instance.healthy or self._launched_in[instance.name] == self._step:
                continue
            try:
                instance.wait_healthy(BOOT_TIMEOUT_S, self.stop)
            except ChatProcessError as exc:
                self.notes.append(f"chat: {exc}")
                self._terminate(instance)

    def _follow(self, desired: int) -> None:
        running = [i.name for i in self.instances if i.healthy]
        booting = [i.name for i in self.instances if not i.healthy]
        plan = plan_fleet(desired, self.max_instances, running, booting)
        for name in plan.stop:
            instance = next(i for i in self.instances if i.name == name)
            moved = self.pool.drop(name)
            self._terminate(instance)
            self.notes.append(
                f"chat: desiredCount {desired}: deregistered {name} ({moved} clients reconnect to the others), SIGTERM"
            )
        for _ in range(plan.start):
            instance = self._launch()
            self.notes.append(
                f"chat: desiredCount {desired}: started {instance.name} on 127.0.0.1:{instance.port} "
                f"(serves from the next minute)"
            )
        if desired > self.max_instances and plan.start:
            self.notes.append(
                f"chat: desiredCount {desired} is above the demo's cap of {self.max_instances} processes: "
                f"the running ones hold their share of the users"
            )

    def _terminate(self, instance: ChatProcess) -> None:
        instance.terminate()
        self._sigterm_at[instance.name] = instance.sigterm_at or time.time()
        self.instances.remove(instance)
        self.stopping.append(instance)
        self.tally.sigterms += 1

    def _place_clients(self, wanted: int, serving: list[ChatProcess]) -> int:
        counts = self.pool.counts()
        holding = {i.name: counts.get(i.name, 0) for i in serving}
        changes = spread_clients(wanted, holding)
        if changes:
            report = self.pool.resize(changes, {i.name: i.url for i in serving})
            if report.failed:
                self.notes.append(f"chat: {len(report.failed)} clients could not connect, e.g. {report.failed[0]}")
            counts = report.counts
            # Connections count on the server before connect() returns; disconnects a moment later.
            self._settle([(i, counts.get(i.name, 0)) for i in serving if changes.get(i.name, 0) < 0])
        return sum(counts.get(i.name, 0) for i in serving)

    def _settle(self, expected: list[tuple[ChatProcess, int]]) -> None:
        """Wait until each instance has handled the disconnects (a client's close reaches the server a
        moment after the client returns), so the minute's EMF lines count this minute's clients."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        waiting = expected
        while waiting and time.monotonic() < deadline and not self.stop.is_set():
            waiting = [(i, n) for i, n in waiting if i.connected_clients() not in (n, None)]
            if waiting:
                self.stop.wait(0.01)

    def _forward(self) -> None:
        """The awslogs stand-in: EMF lines -> PutMetricData, each in the demo minute it was printed in."""
        placement = place_samples(self.collector.take(), self.minutes, self._sigterm_at, self._sampled)
        for request in put_metric_data_requests(placement.placed, scale=USERS_PER_CLIENT):
            self.cloudwatch.put_metric_data(**request)
            self._remember(request)
        self.tally.datapoints += len(placement.placed)
        self.tally.surplus += placement.surplus
        self.tally.between_minutes += placement.between_minutes
        self.tally.dropped_after_sigterm += placement.after_sigterm

    def _remember(self, request: dict[str, Any]) -> None:
        if request["Namespace"] != NAMESPACE:
            return
        wanted = [{"Name": "ClusterName", "Value": self.cluster}, {"Name": "ServiceName", "Value": self.service}]
        for datum in request["MetricData"]:
            if datum["MetricName"] != METRIC_NAME or datum["Dimensions"] != wanted:
                continue
            stats = datum["StatisticValues"]
            total, count = self._published.get(datum["Timestamp"], (0.0, 0.0))
            total, count = total + stats["Sum"], count + stats["SampleCount"]
            self._published[datum["Timestamp"]] = (total, count)
            self._averages.setdefault(datum["Timestamp"], []).append(total / count)

    # ---- evidence --------------------------------------------------------------------------------
    def published_matches(self, timestamp: datetime, value: float) -> bool:
        """Whether a datapoint GetMetricData returned for the period starting at ``timestamp`` is a
        value the stand-in's lines gave that period (a period holds exactly one demo minute)."""
        for minute, averages in self._averages.items():
            if timestamp <= minute < timestamp + timedelta(minutes=1):
                return any(math.isclose(value, average, rel_tol=SAME_VALUE) for average in averages)
        return False

    def summary(self) -> str:
        t = self.tally
        clean = sum(1 for code in t.exits.values() if code == 0)
        return (
            f"chat tier (real): {t.launched} chat processes started (at most {t.peak_processes} at once), "
            f"{t.sigterms} stopped with SIGTERM ({clean} drained and exited 0 so far), at most {t.peak_clients} "
            f"real clients (x{USERS_PER_CLIENT} users); the awslogs stand-in read {self.collector.lines} EMF lines "
            f"and put {t.datapoints} ConnectedClients datapoints: the first line of each instance in each demo "
            f"minute ({t.surplus} later ones in the same minute, {t.between_minutes} printed while the clients "
            f"changed and {t.dropped_after_sigterm} after a SIGTERM left out)"
            + (f"; {len(self.collector.invalid)} invalid EMF lines" if self.collector.invalid else "")
            + (f"; desiredCount above the cap in {t.capped_minutes} minutes" if t.capped_minutes else "")
        )
