"""The demo's world: the names of what it creates, its alarms, and the requests and commands it prints.

Tests register the demo's targets (examples/targets/) against these same resources.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from marea_local.demo_resources import put_alarm

ROOT = Path(__file__).resolve().parents[2]
# 1995-07-13 06:00 EDT (trace minute 0 is 1995-07-01 00:00): the STS-70 launch morning.
REPLAY_START_MINUTE = 12 * 1440 + 6 * 60
REPLAY_MINUTES = 300
CHART = ROOT / "demo-output" / "backtest.png"
WEB_ASG = "demo-web"
CHAT_CLUSTER, CHAT_SERVICE = "demo", "chat"
KOPS_CLUSTER, KOPS_IG, KOPS_BUCKET = "demo.k8s.local", "nodes", "marea-demo-kops-state"
KOPS_ASG = f"{KOPS_IG}.{KOPS_CLUSTER}"
WEB_ALARM = "demo-web-cpu-high"
CHAT_ALARM = "demo-chat-connections-high"
MAX_CHAT_INSTANCES = 12


# Requests per minute one unit serves at 100 %, in each workload's own demand (marea_local/demo/workload.py):
# what POST /backtest needs to turn the web tier's CPU, or the chat's connections per task, into demand.
WEB_UNIT_CAPACITY, CHAT_UNIT_CAPACITY = 250, 500


def backtest_requests() -> list[dict[str, Any]]:
    """The POST /backtest bodies the demo prints and checks: each of its CPU- and connections-scaled targets,
    with its step policy, against Marea's default policy on the replayed minutes (the last day)."""
    return [
        {"target": "web", "days": 1, "unit_capacity": WEB_UNIT_CAPACITY, "target_utilization": 60},
        {"target": "chat", "days": 1, "unit_capacity": CHAT_UNIT_CAPACITY, "target_utilization": 80},
    ]


def api_examples(base: str, aws_url: str) -> list[str]:
    """The commands the demo suggests once the API serves. Switching the web tier to advise mode is a
    PATCH: a PUT of a partial body would replace the whole target (and is refused, naming what it drops)."""
    backtests = [
        f"curl -s -X POST {base}/backtest -H 'Content-Type: application/json' -d '{json.dumps(body)}'"
        for body in backtest_requests()
    ]
    return [
        *backtests,
        f"curl -s '{base}/decisions?target=web&limit=5'",
        f"curl -s '{base}/decisions?outcome=applied&limit=20'",
        f"curl -s {base}/targets/chat",
        f"curl -s -X POST {base}/targets/web/evaluate",
        f"curl -s -X PATCH {base}/targets/web -H 'Content-Type: application/merge-patch+json' "
        """-d '{"mode": "advise"}'""",
        f"AWS_ENDPOINT_URL={aws_url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"aws --region us-east-1 cloudwatch put-metric-data --namespace AWS/EC2 --metric-name CPUUtilization "
        f"--dimensions AutoScalingGroupName={WEB_ASG} --value 95",
    ]


def put_demo_alarms(cloudwatch: Any) -> None:
    """The alarms of the web and chat step policies (the demo's, and the tests' that register its targets)."""
    put_alarm(
        cloudwatch,
        WEB_ALARM,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions={"AutoScalingGroupName": WEB_ASG},
        threshold=80,
    )
    put_alarm(
        cloudwatch,
        CHAT_ALARM,
        namespace="Marea/Chat",
        metric_name="ConnectedClients",
        dimensions={"ClusterName": CHAT_CLUSTER, "ServiceName": CHAT_SERVICE},
        threshold=500,
        evaluation_periods=1,
        datapoints_to_alarm=1,
    )
