"""A simulated workload for the demo: demand from a real trace, capacity from the cloud.

Each minute it reads the desired capacity Marea set (ASG DesiredCapacity, ECS desiredCount),
lets new units boot for ``boot_minutes`` before they serve, and publishes the metric a real
fleet would publish (CPU for the web tier, connections per task for the chat).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.models.targets import CustomMetric

TRACE = Path(__file__).resolve().parents[2] / "bench" / "data" / "nasa_jul95.csv"


def load_trace(path: Path = TRACE) -> list[int]:
    """Per-minute request counts, index = minute since the trace's start."""
    with path.open(encoding="utf-8") as handle:
        return [int(row["requests"]) for row in csv.DictReader(handle)]


@dataclass
class Fleet:
    """Units that serve (ready) and units still booting, driven by the desired capacity."""

    boot_minutes: int
    ready: int
    booting: list[int] = field(default_factory=list)  # minutes left for each booting unit

    def follow(self, desired: int) -> None:
        """Advance one minute toward ``desired``: booting units progress, removals are immediate."""
        self.booting = [left - 1 for left in self.booting]
        self.ready += sum(1 for left in self.booting if left <= 0)
        self.booting = [left for left in self.booting if left > 0]
        total = self.ready + len(self.booting)
        if desired > total:
            self.booting.extend([self.boot_minutes] * (desired - total))
        elif desired < total:
            surplus = total - desired
            cancelled = min(surplus, len(self.booting))  # booting units are cancelled first
            self.booting = self.booting[: len(self.booting) - cancelled]
            self.ready -= surplus - cancelled


@dataclass
class Workload:
    """One demo workload: how to read its desired capacity and what metric it publishes."""

    name: str
    unit_capacity: float  # demand one unit serves per minute at 100 %
    demand_scale: float  # trace requests/minute x this = this workload's demand
    read_desired: Callable[[], int]
    publish: Callable[[datetime, float, int], float]  # (minute, demand, ready) -> published value
    fleet: Fleet
    last: dict[str, Any] = field(default_factory=dict)

    def step(self, minute: datetime, requests: int) -> dict[str, Any]:
        desired = self.read_desired()
        self.fleet.follow(desired)
        demand = requests * self.demand_scale
        value = self.publish(minute, demand, self.fleet.ready)
        self.last = {"desired": desired, "ready": self.fleet.ready, "demand": demand, "metric": value}
        return self.last


def cpu_publisher(cloudwatch: Any, asg_name: str, unit_capacity: float) -> Callable[[datetime, float, int], float]:
    """Average CPU of the group: demand over what the ready instances can serve, capped at 100 %."""

    def publish(minute: datetime, demand: float, ready: int) -> float:
        cpu = 100.0 if ready == 0 else min(100.0, 100.0 * demand / (ready * unit_capacity))
        cloudwatch.put_metric_data(
            Namespace="AWS/EC2",
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": "AutoScalingGroupName", "Value": asg_name}],
                    "Timestamp": minute,
                    "Value": round(cpu, 2),
                    "Unit": "Percent",
                }
            ],
        )
        return cpu

    return publish


def connections_publisher(cloudwatch: Any, cluster: str, service: str) -> Callable[[datetime, float, int], float]:
    """Connected clients per task, as each chat task reports it (EMF, namespace Marea/Chat)."""

    def publish(minute: datetime, demand: float, ready: int) -> float:
        per_task = demand / max(ready, 1)
        cloudwatch.put_metric_data(
            Namespace="Marea/Chat",
            MetricData=[
                {
                    "MetricName": "ConnectedClients",
                    "Dimensions": [
                        {"Name": "ClusterName", "Value": cluster},
                        {"Name": "ServiceName", "Value": service},
                    ],
                    "Timestamp": minute,
                    "Value": round(per_task, 2),
                    "Unit": "Count",
                }
            ],
        )
        return per_task

    return publish


def serving_units_publisher(cloudwatch: Any, metric: CustomMetric) -> Callable[[datetime, int], None]:
    """The units serving each minute, as AWS publishes them (``metric``: chalicelib/derived_demand.py
    serving_units_metric: an ASG's GroupInServiceInstances once group metrics collection is on, a
    service's Container Insights RunningTaskCount): what a backtest derives demand from utilization with."""

    def publish(minute: datetime, serving: int) -> None:
        cloudwatch.put_metric_data(
            Namespace=metric.namespace,
            MetricData=[
                {
                    "MetricName": metric.metric_name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in metric.dimensions.items()],
                    "Timestamp": minute,
                    "Value": serving,
                    "Unit": "Count",
                }
            ],
        )

    return publish
