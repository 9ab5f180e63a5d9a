"""`make demo` (`python -m marea_local.demo`): Marea on an embedded AWS, meeting the STS-70 flash crowd of July 1995.

1. starts moto in server mode on 127.0.0.1 (the embedded AWS) and creates Marea's tables from
   infra/marea-data.yaml;
2. creates a web Auto Scaling group and a chat service on ECS Fargate, their alarms, and
   registers both as Marea targets (act mode);
3. replays the morning of 1995-07-13 from the NASA trace in simulated time: each simulated
   minute the workloads publish their metrics, the local event pump evaluates the alarms and
   delivers alarm events and schedule ticks to the real Lambda handlers, and every decision is
   shown as it happens. The chat tier is real when redis-server is installed: `python -m chat`
   processes as many as the service's desiredCount (capped), real socket.io clients, and the
   chat's own EMF metric lines turned into CloudWatch metric data (chat_tier.py);
   otherwise it is simulated, and the demo says why;
4. backtests the replayed minutes for the web tier under Marea's policy and AWS target tracking,
   prints both and draws them in a chart (--chart);
5. serves the HTTP API with `chalice local --stage local` and keeps the embedded AWS, the pump
   and the workloads running in real time until Ctrl-C / SIGTERM (or exits with --once).

Its parts: scene.py (names, alarms, requests), replay.py (the run), workload.py (the simulated tiers),
chat_tier.py (the real chat tier), backtest.py (the replayed minutes backtested), api_process.py
(`chalice local` and the checks), display.py (the live table), cli.py (options and signals). The AWS
stand-ins it runs on (embedded AWS, event pump, alarm evaluation, local Fargate, EMF, kops runner) are
marea_local's, which the tests import too.
"""

from marea_local.demo.scene import (
    CHAT_ALARM,
    CHAT_CLUSTER,
    CHAT_SERVICE,
    CHAT_UNIT_CAPACITY,
    KOPS_ASG,
    KOPS_CLUSTER,
    KOPS_IG,
    REPLAY_START_MINUTE,
    WEB_ALARM,
    WEB_ASG,
    WEB_UNIT_CAPACITY,
    api_examples,
    backtest_requests,
    put_demo_alarms,
)

__all__ = [
    "CHAT_ALARM",
    "CHAT_CLUSTER",
    "CHAT_SERVICE",
    "CHAT_UNIT_CAPACITY",
    "KOPS_ASG",
    "KOPS_CLUSTER",
    "KOPS_IG",
    "REPLAY_START_MINUTE",
    "WEB_ALARM",
    "WEB_ASG",
    "WEB_UNIT_CAPACITY",
    "api_examples",
    "backtest_requests",
    "put_demo_alarms",
]
