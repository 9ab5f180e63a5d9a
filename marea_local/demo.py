"""`make demo`: Marea on an embedded AWS, meeting the STS-70 flash crowd of July 1995.

1. starts moto in server mode on 127.0.0.1 (the embedded AWS) and creates Marea's tables from
   infra/marea-data.yaml;
2. creates a web Auto Scaling group and a chat service on ECS Fargate, their alarms, and
   registers both as Marea targets (act mode);
3. replays the morning of 1995-07-13 from the NASA trace in simulated time: each simulated
   minute the workloads publish their metrics, the local event pump evaluates the alarms and
   delivers alarm events and schedule ticks to the real Lambda handlers, and every decision is
   shown as it happens. The chat tier is real when redis-server is installed: `python -m chat`
   processes as many as the service's desiredCount (capped), real socket.io clients, and the
   chat's own EMF metric lines turned into CloudWatch metric data (marea_local/chat_tier.py);
   otherwise it is simulated, and the demo says why;
4. backtests the replayed minutes for the web tier under Marea's policy and AWS target tracking,
   prints both and draws them in a chart (--chart);
5. serves the HTTP API with `chalice local --stage local` and keeps the embedded AWS, the pump
   and the workloads running in real time until Ctrl-C / SIGTERM (or exits with --once).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from marea_local import demo_display as display
from marea_local.chat_processes import ChatProcessError
from marea_local.chat_tier import DEFAULT_MAX_INSTANCES, EMF_INTERVAL_S, USERS_PER_CLIENT, RealChat, unavailable_reason
from marea_local.data_stack import create_data_stack
from marea_local.decision_inbox import DecisionInbox
from marea_local.demo_backtest import Window, report_backtest
from marea_local.demo_resources import (
    create_fargate_service,
    create_kops_runner_cluster,
    create_web_asg,
    put_alarm,
    runner_environment,
)
from marea_local.embedded_aws import EmbeddedAws, PortUnavailable, check_port_free, start_embedded_aws
from marea_local.event_pump import EventPump
from marea_local.example_targets import NAMES, example_target
from marea_local.kops_local import run_runner_locally, seed_kops_cluster
from marea_local.local_fargate import LocalFargate
from marea_local.simulated_clock import SimulatedClock
from marea_local.workload import (
    Fleet,
    Workload,
    connections_publisher,
    cpu_publisher,
    load_trace,
    serving_units_publisher,
)

ROOT = Path(__file__).resolve().parent.parent
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


# Requests per minute one unit serves at 100 %, in each workload's own demand (marea_local/workload.py):
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


@dataclass
class Tally:
    decisions: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    overloaded_minutes: Counter[str] = field(default_factory=Counter)
    peak: Counter[str] = field(default_factory=Counter)
    minutes: int = 0


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stop = threading.Event()
        self.aws: EmbeddedAws | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.tally = Tally()
        self.width = display.terminal_width()  # None when piped: lines stay whole
        self.trace = load_trace()
        self.lines: list[str] = []
        self.chat: RealChat | None = None  # the real chat tier, when it runs
        self.inbox: DecisionInbox | None = None
        # Per target: puts its units serving each minute (AWS's group metrics / Container Insights stand-in).
        self.publish_serving: dict[str, Callable[[datetime, int], None]] = {}

    # ---- set-up ------------------------------------------------------------------------------
    def start_aws(self) -> None:
        # A free port unless AWS_PORT names one: the `local` stage takes the address from this environment.
        asked = os.environ.get("AWS_PORT", "")
        if asked and not (asked.isdigit() and 0 < int(asked) < 65536):
            raise SystemExit(f"AWS_PORT={asked!r} is not a port number (1-65535); unset it for a free port")
        try:
            self.aws = start_embedded_aws(int(asked) if asked else None)
        except PortUnavailable as exc:
            raise SystemExit(
                f"cannot start the embedded AWS on 127.0.0.1:{exc.port}: {exc.reason}. Another program (another "
                f"demo?) holds it: stop it, or pick another port with AWS_PORT=<port>, or unset AWS_PORT for a free one"
            ) from exc
        os.environ.update(self.aws.environment())
        os.environ.update(
            {"POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_METRICS_DISABLED": "1", "POWERTOOLS_LOG_LEVEL": "WARNING"}
        )
        stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage="local")
        os.environ.update(stack.environment())
        # A user's rule for Marea's decision events (docs/decision-events.md): the summary counts what it received.
        self.inbox = DecisionInbox(boto3.client("events"), boto3.client("sqs"))
        say(f"embedded AWS (moto server) on {self.aws.url}; tables {stack.targets_table}, {stack.decisions_table}")

    def create_workloads(self) -> dict[str, Workload]:
        ec2, autoscaling = boto3.client("ec2"), boto3.client("autoscaling")
        ecs, cloudwatch = boto3.client("ecs"), boto3.client("cloudwatch")
        create_web_asg(ec2, autoscaling, WEB_ASG, stage="local", min_size=1, max_size=25, desired=2)
        create_fargate_service(ec2, ecs, CHAT_CLUSTER, CHAT_SERVICE, stage="local", desired=2)
        seed_kops_cluster(boto3.client("s3"), autoscaling, ec2, KOPS_BUCKET, KOPS_CLUSTER, KOPS_IG, 2, 2)
        # Where the runner runs is the stage's configuration (settings), as on AWS; the API server inherits it.
        runner = create_kops_runner_cluster(
            ec2,
            ecs,
            kops_cluster=KOPS_CLUSTER,
            state_store=f"s3://{KOPS_BUCKET}",
            instance_groups=[KOPS_IG],
            decisions_table=os.environ["MAREA_DECISIONS_TABLE"],
        )
        os.environ.update(runner_environment(runner))
        # What POST /backtest derives the demand of a CPU-scaled group with: AWS publishes GroupInServiceInstances
        # once collection is on. moto records the setting and publishes nothing, so the demo puts it each minute.
        for group in (WEB_ASG, KOPS_ASG):
            autoscaling.enable_metrics_collection(
                AutoScalingGroupName=group, Granularity="1Minute", Metrics=["GroupInServiceInstances"]
            )
        put_demo_alarms(cloudwatch)
        from chalicelib import wiring
        from chalicelib.derived_demand import serving_units_metric
        from chalicelib.store.items import TARGET_ADAPTER

        wiring.reset()
        for body in (example_target(name) for name in NAMES):
            target = TARGET_ADAPTER.validate_python(body)
            wiring.registry().put(target)
            self.publish_serving[target.id] = serving_units_publisher(cloudwatch, serving_units_metric(target))
        say(
            f"registered in act mode: 'web' = ASG {WEB_ASG} (alarm {WEB_ALARM}), 'chat' = ECS Fargate service "
            f"{CHAT_CLUSTER}/{CHAT_SERVICE} (alarm {CHAT_ALARM}), 'nodes' = kops instance group {KOPS_IG} of "
            f"{KOPS_CLUSTER} (resized by the kops runner, run locally in place of Fargate)"
        )

        def asg_desired(name: str) -> Callable[[], int]:
            def read() -> int:
                group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
                return int(group["DesiredCapacity"])

            return read

        def ecs_desired() -> int:
            return int(
                ecs.describe_services(cluster=CHAT_CLUSTER, services=[CHAT_SERVICE])["services"][0]["desiredCount"]
            )

        return {
            "web": Workload(
                "web",
                unit_capacity=WEB_UNIT_CAPACITY,
                demand_scale=5,
                read_desired=asg_desired(WEB_ASG),
                publish=cpu_publisher(cloudwatch, WEB_ASG, 250),
                fleet=Fleet(boot_minutes=3, ready=2),
            ),
            "chat": Workload(
                "chat",
                unit_capacity=CHAT_UNIT_CAPACITY,
                demand_scale=8,
                read_desired=ecs_desired,
                publish=connections_publisher(cloudwatch, CHAT_CLUSTER, CHAT_SERVICE),
                fleet=Fleet(boot_minutes=1, ready=2),
            ),
            "nodes": Workload(
                "nodes",
                unit_capacity=400,
                demand_scale=5,
                read_desired=asg_desired(KOPS_ASG),
                publish=cpu_publisher(cloudwatch, KOPS_ASG, 400),
                fleet=Fleet(boot_minutes=6, ready=2),
            ),
        }

    def start_chat(self, workloads: dict[str, Workload]) -> None:
        """Run the chat tier for real when this machine can (--chat auto), else keep it simulated and say why."""
        reason = "--chat simulated" if self.args.chat == "simulated" else unavailable_reason()
        if reason is None:
            simulated = workloads["chat"]
            self.chat = RealChat(
                read_desired=simulated.read_desired,
                cloudwatch=boto3.client("cloudwatch"),
                cluster=CHAT_CLUSTER,
                service=CHAT_SERVICE,
                unit_capacity=simulated.unit_capacity,
                demand_scale=simulated.demand_scale,
                max_instances=self.args.chat_max_instances,
                stop=self.stop,
            )
            try:
                started = self.chat.start()
            except (ChatProcessError, OSError) as exc:
                self.chat.close()
                self.chat = None
                reason = f"the real chat did not start ({exc})"
            else:
                del workloads["chat"]
                say(
                    f"chat tier: REAL. {started}; they follow the service's desiredCount (at most "
                    f"{self.args.chat_max_instances} processes), real socket.io clients follow the trace's chat users "
                    f"(1 real client = {USERS_PER_CLIENT} users), and an awslogs stand-in turns each instance's EMF "
                    f"line (every {EMF_INTERVAL_S:g} s, the replay's minutes being short) into Marea/Chat "
                    f"ConnectedClients x {USERS_PER_CLIENT} in the demo minute it was printed in"
                )
                return
        if self.args.chat == "real":
            raise SystemExit(f"--chat real: {reason}")
        say(f"chat tier: SIMULATED, because {reason}: connections per task are computed from the trace")

    # ---- the replay ----------------------------------------------------------------------------
    def run(self) -> int:
        from chalice.test import Client

        from app import app
        from chalicelib import wiring

        self.check_api_port()
        self.start_aws()
        workloads = self.create_workloads()
        self.start_chat(workloads)
        replay_minutes = self.args.minutes
        sim_start = (datetime.now(UTC) - timedelta(minutes=replay_minutes)).replace(second=0, microsecond=0)
        clock = {"now": sim_start}
        sim_clock = SimulatedClock(sim_start, self.args.seconds_per_minute)
        wiring.use_clock(sim_clock.now)  # evaluations read the replay's time, not the wall clock
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
            pump = EventPump(
                boto3.client("cloudwatch"),
                deliver_alarm_event=lambda e: self.record(client.lambda_.invoke("on_alarm_state_change", e).payload, e),
                deliver_tick=lambda e: self.record(client.lambda_.invoke("on_schedule_tick", e).payload, e),
                clock=lambda: clock["now"],
            )
            fargate = LocalFargate(
                boto3.client("ecs"),
                run_runner_locally,
                lambda e: self.record(client.lambda_.invoke("on_runner_task_stopped", e).payload, e),
            )
            say(
                f"replaying {replay_minutes} minutes of the NASA trace (1995-07-13 from 06:00 EDT, STS-70 launch) "
                f"at {self.args.seconds_per_minute:g} s per simulated minute"
            )
            for line in display.header(real_chat=self.chat is not None):
                say(line)
            for line in display.note(
                "a decision that changed capacity, answered an alarm or closed a kops runner", self.width
            ):
                say(line)
            for offset in range(replay_minutes):
                if self.stop.is_set():
                    break
                minute = sim_start + timedelta(minutes=offset)
                clock["now"] = minute + timedelta(seconds=30)
                sim_clock.mark(clock["now"])
                self.simulate_minute(pump, fargate, minute, REPLAY_START_MINUTE + offset, workloads)
                self.stop.wait(self.args.seconds_per_minute)
            self.summarize()
            if self.stop.is_set():
                return 0
            self.backtest(workloads["web"])
            self.serve_api()
            if self.args.once:
                checked = self.check_api()
                if self.args.hold:  # the console's browser tests read this API before the demo stops
                    say(f"holding: the API serves on 127.0.0.1:{self.args.port} until SIGTERM")
                    self.stop.wait()
                return 0 if checked else 1
            say(
                "live: the pump and the workloads now run in real time (one minute per minute); Ctrl-C stops everything"
            )
            live_minute = REPLAY_START_MINUTE + replay_minutes
            while not self.stop.is_set():
                now = datetime.now(UTC).replace(second=0, microsecond=0)
                if now + timedelta(seconds=30) > clock["now"]:
                    clock["now"] = now + timedelta(seconds=30)
                    sim_clock.mark(clock["now"], seconds_per_minute=60)
                    self.simulate_minute(pump, fargate, now, live_minute % len(self.trace), workloads)
                    live_minute += 1
                self.stop.wait(5)
        return 0

    def simulate_minute(
        self,
        pump: EventPump,
        fargate: LocalFargate,
        minute: datetime,
        trace_minute: int,
        workloads: dict[str, Workload],
    ) -> None:
        """One minute of the world: workloads publish, CloudWatch/EventBridge deliver, runners run."""
        requests = self.trace[trace_minute]
        self.lines = []
        if self.chat:
            # The chat's clients settle first; its EMF lines arrive while the other tiers publish.
            self.chat.begin(minute, requests)
        states = {name: workload.step(minute, requests) for name, workload in workloads.items()}
        if self.chat:
            states["chat"] = self.chat.finish()
            self.lines.extend(states["chat"]["notes"])
        for name, state in states.items():
            self.publish_serving[name](minute, state["ready"])
        # The pump looks 30 s into the minute: CloudWatch evaluates shortly after a period closes.
        pump.step()
        fargate.step(minute + timedelta(seconds=45))
        self.tally.minutes += 1
        for name, state in states.items():
            capacity = self.chat.unit_capacity if self.chat and name == "chat" else workloads[name].unit_capacity
            self.tally.peak[name] = max(self.tally.peak[name], state["desired"])
            self.tally.overloaded_minutes[name] += state["demand"] > state["ready"] * capacity
        w, c, n = states["web"], states["chat"], states["nodes"]
        label = (datetime(1995, 7, 1, 0, 0) + timedelta(minutes=trace_minute)).strftime("%H:%M")
        done = self.tally.minutes
        progress = f"[{done:>4}/{self.args.minutes:>4}]" if done <= self.args.minutes else "[   live  ]"
        status = display.row(
            display.Row(
                progress=progress,
                clock=label,
                requests=requests,
                web=(w["ready"], w["desired"], w["metric"]),
                chat=(c["ready"], c["desired"], c["clients"] if self.chat else None, c["metric"]),
                nodes=(n["ready"], n["desired"], n["metric"]),
            )
        )
        if self.lines or self.args.verbose or trace_minute % 15 == 0:
            say(status)
            for line in self.lines:
                for part in display.note(line, self.width):
                    say(part)

    def record(self, payload: Any, event: dict[str, Any]) -> None:
        """Show every decision that changed something, and count all of them."""
        from chalicelib import wiring

        if not isinstance(payload, dict):
            return
        if payload.get("rejected"):
            self.lines.append(f"event {event.get('id')} rejected: {payload.get('message')}")
            return
        runner_event = event.get("detail-type") == "ECS Task State Change"
        for summary in payload.get("decisions", []):
            decision = wiring.decision_log().get(summary["id"])
            if decision is None:
                continue
            if runner_event:
                sizes = f"{decision.final}" if decision.outcome.value == "applied" else "unchanged"
                self.lines.append(
                    f"{decision.target_id} {decision.outcome.value}: the kops runner finished; instance group "
                    f"{KOPS_IG} size {sizes}" + (f" ({decision.error})" if decision.error else "")
                )
                continue
            self.tally.decisions[decision.outcome.value] += 1
            if decision.action.value != "none" or decision.trigger.type.value == "alarm":
                self.tally.actions[f"{decision.target_id}:{decision.action.value}"] += 1
                self.lines.append(f"{decision.target_id} {decision.outcome.value}: {decision.explanation}")

    def summarize(self) -> None:
        t = self.tally
        say("")
        say(
            f"replayed {t.minutes} minutes: {sum(t.decisions.values())} decisions recorded "
            f"({', '.join(f'{k} {v}' for k, v in sorted(t.decisions.items()))})"
        )
        say(f"scaling actions: {', '.join(f'{k} {v}' for k, v in sorted(t.actions.items())) or 'none'}")
        say(
            f"peak capacity: web {t.peak['web']} instances, chat {t.peak['chat']} tasks, nodes {t.peak['nodes']}; "
            f"under-provisioned minutes: web {t.overloaded_minutes['web']}, chat {t.overloaded_minutes['chat']}, "
            f"nodes {t.overloaded_minutes['nodes']}"
        )
        if self.inbox is not None:
            self.inbox.drain()
            received = self.inbox.received
            say(
                f"decision events on EventBridge (a rule on the default bus -> SQS queue marea-decision-events): "
                f"{sum(received.values())} ({', '.join(f'{k} {v}' for k, v in sorted(received.items())) or 'none'})"
            )
        if self.chat:
            say(self.chat.summary())

    def backtest(self, web: Workload) -> None:
        """What Marea's default policy and AWS target tracking would have done with the replayed minutes."""
        from chalicelib import wiring

        stored = wiring.registry().get("web")
        if stored is None:
            raise SystemExit("the demo's 'web' target is no longer registered")
        report_backtest(
            stored.target,
            requests_per_unit=web.unit_capacity / web.demand_scale,
            requests=self.trace,
            window=Window(first=REPLAY_START_MINUTE, minutes=self.tally.minutes),
            chart=self.args.chart,
            say=say,
        )

    # ---- the API -------------------------------------------------------------------------------
    def check_api_port(self) -> None:
        """Before the replay, not after it: the API's port is the one users type, so it is fixed, and may be held."""
        try:
            check_port_free(self.args.port)
        except PortUnavailable as exc:
            raise SystemExit(
                f"the HTTP API's port 127.0.0.1:{exc.port} is not free ({exc.reason}): is another demo running? "
                f"Stop it, or pick another port: make demo PORT=<port> (or DEMO_ARGS=--port <port>)"
            ) from exc

    def serve_api(self) -> None:
        port = self.args.port
        chalice = Path(sys.executable).with_name("chalice")
        self.api = subprocess.Popen(  # noqa: S603 - fixed argument list, our own venv's chalice
            [str(chalice), "local", "--stage", "local", "--host", "127.0.0.1", "--port", str(port), "--no-autoreload"],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=subprocess.DEVNULL if not self.args.verbose else None,
            stderr=subprocess.DEVNULL if not self.args.verbose else None,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.api.poll() is not None:
                raise SystemExit(
                    f"chalice local exited with {self.api.returncode}; is port {port} free? (PORT= changes it)"
                )
            try:
                with urllib.request.urlopen(f"{base}/targets", timeout=2):  # noqa: S310 - loopback only
                    break
            except OSError:
                time.sleep(0.3)
        say("")
        say(f"console: {base}/console (targets, timelines, decisions; docs/console.md)")
        say(f"HTTP API (chalice local --stage local) on {base}. Try:")
        for line in api_examples(base, self.aws.url if self.aws else ""):
            say(f"  {line}")

    def check_api(self) -> bool:
        url = f"http://127.0.0.1:{self.args.port}/decisions?target=web&limit=3"
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.loads(response.read())
        latest = body["decisions"][0] if body["decisions"] else None
        say(
            f"API check: GET /decisions?target=web&limit=3 -> {len(body['decisions'])} decisions; latest: "
            f"{latest['explanation'] if latest else 'none'}"
        )
        backtests_ok = self.check_backtests()
        return bool(body["decisions"]) and backtests_ok and (self.chat is None or self.check_chat_metric(self.chat))

    def check_backtests(self) -> bool:
        """The POST /backtest examples the demo prints answer, on its own targets, step policies and all."""
        ok = True
        for body in backtest_requests():
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.args.port}/backtest",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback only
                    result = json.loads(response.read())
            except urllib.error.HTTPError as exc:
                say(f"API check: POST /backtest {json.dumps(body)} -> {exc.code} {exc.read().decode()[:300]}")
                ok = False
                continue
            current, proposed = result["current"], result["proposed"]
            say(
                f"API check: POST /backtest {json.dumps(body)} -> {result['minutes']} minutes of "
                f"{result['demand_formula']}; under-provisioned minutes {current['label']} "
                f"{current['summary']['under_provisioned_minutes']} vs {proposed['label']} "
                f"{proposed['summary']['under_provisioned_minutes']}, unit-hours "
                f"{current['summary']['unit_hours']:.1f} vs {proposed['summary']['unit_hours']:.1f}"
            )
        return ok

    def check_chat_metric(self, chat: RealChat) -> bool:
        """The latest chat decision that read ConnectedClients read what the real chat's EMF lines put."""
        url = f"http://127.0.0.1:{self.args.port}/decisions?target=chat&limit=100"
        with urllib.request.urlopen(url, timeout=10) as response:
            decisions = json.loads(response.read())["decisions"]
        for decision in decisions:
            points = decision["inputs"].get("metrics", {}).get("connections-per-task", [])
            if not points:
                continue
            matched = [p for p in points if chat.published_matches(datetime.fromisoformat(p["timestamp"]), p["value"])]
            values = ", ".join(f"{p['value']:g}" for p in points[-5:])
            say(
                f"API check: GET /decisions?target=chat -> the latest decision on the chat's metric read "
                f"{len(points)} ConnectedClients per task datapoints (last: {values}); {len(matched)} of them "
                f"are what the awslogs stand-in put from the real chat instances' EMF lines; it says: "
                f"{decision['explanation']}"
            )
            return len(matched) == len(points)
        say("API check: GET /decisions?target=chat -> no decision read ConnectedClients")
        return False

    def shutdown(self) -> None:
        """Stop every part, saying which as it goes (a Ctrl-C should not leave anyone guessing what still runs)."""
        self.stop.set()
        if self.api is not None and self.api.poll() is None:
            say(f"stopping: the HTTP API (chalice local, pid {self.api.pid}) on 127.0.0.1:{self.args.port}")
            self.api.terminate()
            try:
                self.api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.api.kill()
        try:
            if self.chat is not None:
                say("stopping: the chat tier (its chat processes, their socket.io clients and redis-server)")
                self.chat.close()
        finally:
            if self.aws is not None:
                say(f"stopping: the embedded AWS on {self.aws.url} (its state goes with it)")
                self.aws.stop()


def say(line: str) -> None:
    print(line, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="HTTP API port (default $PORT or 8000)"
    )
    parser.add_argument(
        "--minutes", type=int, default=REPLAY_MINUTES, help="simulated minutes to replay (default %(default)s)"
    )
    parser.add_argument(
        "--seconds-per-minute", type=float, default=0.05, help="real seconds per simulated minute (default %(default)s)"
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after the replay and one API check (unattended runs, CI)"
    )
    parser.add_argument(
        "--chart",
        type=Path,
        default=CHART,
        metavar="PATH",
        help="where the backtest chart of the replayed minutes goes (default demo-output/backtest.png)",
    )
    parser.add_argument(
        "--chat",
        choices=["auto", "real", "simulated"],
        default="auto",
        help="the chat tier: real chat processes and clients when redis-server is installed (auto, the default), "
        "always (real: fail without it) or never (simulated)",
    )
    parser.add_argument(
        "--chat-max-instances",
        type=int,
        default=DEFAULT_MAX_INSTANCES,
        metavar="N",
        help=f"at most N real chat processes at once (default %(default)s, at most {MAX_CHAT_INSTANCES}); above "
        "it the running ones hold their share of the users",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="with --once: after the checks, keep serving the API (no live replay) until SIGTERM or Ctrl-C",
    )
    parser.add_argument("--verbose", action="store_true", help="print every minute and chalice local's log")
    args = parser.parse_args(argv)
    if args.hold and not args.once:
        parser.error("--hold goes with --once (without it the demo serves until Ctrl-C anyway)")
    if not 1 <= args.minutes <= 1440:
        parser.error("--minutes must be between 1 and 1440")
    if not 1 <= args.chat_max_instances <= MAX_CHAT_INSTANCES:
        parser.error(f"--chat-max-instances must be between 1 and {MAX_CHAT_INSTANCES}")
    return args


def main(argv: list[str] | None = None) -> int:
    demo = Demo(parse_args(argv))

    def stop(signum: int, _frame: Any) -> None:
        say(f"\n{signal.Signals(signum).name}: finishing the current minute, then stopping the demo")
        demo.stop.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        return demo.run()
    finally:
        demo.shutdown()


if __name__ == "__main__":
    sys.exit(main())
