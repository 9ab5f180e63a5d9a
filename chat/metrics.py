"""The signal Marea scales the chat on: connected clients per task, as CloudWatch Embedded Metric Format.

Each task prints one EMF line to stdout every interval; the ECS `awslogs` driver ships stdout to CloudWatch
Logs, which turns the line into the metric Marea/Chat ConnectedClients {ClusterName, ServiceName}. With one
datapoint per task per period, the metric's Average over a period is the number of connections per task.
Emitted more often than once a minute (CHAT_METRICS_INTERVAL_S 10, say), the metric is high-resolution
(EMF's StorageResolution 1), so CloudWatch keeps its 10 s datapoints and alarms can use 10 s periods.
"""

from __future__ import annotations

import json
from typing import Any

NAMESPACE = "Marea/Chat"
METRIC_NAME = "ConnectedClients"


def connected_clients_emf(
    count: int, *, cluster_name: str, service_name: str, timestamp_ms: int, high_resolution: bool = False
) -> str:
    """One EMF document (a single JSON line) for `count` connected clients on this task; ``high_resolution``:
    stored at 1 s resolution (for an interval below a minute)."""
    definition: dict[str, Any] = {"Name": METRIC_NAME, "Unit": "Count"}
    if high_resolution:
        definition["StorageResolution"] = 1
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {"Namespace": NAMESPACE, "Dimensions": [["ClusterName", "ServiceName"]], "Metrics": [definition]}
            ],
        },
        "ClusterName": cluster_name,
        "ServiceName": service_name,
        METRIC_NAME: count,
    }
    return json.dumps(document, separators=(",", ":"))
