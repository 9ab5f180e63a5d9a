"""The signal Marea scales the chat on: connected clients per task, as CloudWatch Embedded Metric Format.

Each task prints one EMF line to stdout every interval; the ECS `awslogs` driver ships stdout to CloudWatch
Logs, which turns the line into the metric Marea/Chat ConnectedClients {ClusterName, ServiceName}. With one
datapoint per task per minute, the metric's Average over a minute is the number of connections per task.
"""

from __future__ import annotations

import json
from typing import Any

NAMESPACE = "Marea/Chat"
METRIC_NAME = "ConnectedClients"


def connected_clients_emf(count: int, *, cluster_name: str, service_name: str, timestamp_ms: int) -> str:
    """One EMF document (a single JSON line) for `count` connected clients on this task."""
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["ClusterName", "ServiceName"]],
                    "Metrics": [{"Name": METRIC_NAME, "Unit": "Count"}],
                }
            ],
        },
        "ClusterName": cluster_name,
        "ServiceName": service_name,
        METRIC_NAME: count,
    }
    return json.dumps(document, separators=(",", ":"))
