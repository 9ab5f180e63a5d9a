"""The demo's run: the embedded AWS and its workloads set up, the replayed and the live minutes, the stop."""

from __future__ import annotations

import argparse
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from marea_local.chat_processes import ChatProcessError
from marea_local.data_stack import create_data_stack
from marea_local.decision_inbox import DecisionInbox
from marea_local.demo import display
from marea_local.demo.api_process import ApiProcess
from marea_local.demo.backtest import Window, report_backtest
from marea_local.demo.chat_tier import EMF_INTERVAL_S, USERS_PER_CLIENT, RealChat, unavailable_reason
from marea_local.demo.display import say
from marea_local.demo.scene import (
    CHAT_ALARM,
    CHAT_CLUSTER,
    CHAT_SERVICE,
    CHAT_UNIT_CAPACITY,
    KOPS_ASG,
    KOPS_BUCKET,
    KOPS_CLUSTER,
    KOPS_IG,
    REPLAY_START_MINUTE,
    ROOT,
    WEB_ALARM,
    WEB_ASG,
    WEB_UNIT_CAPACITY,
    put_demo_alarms,
)
from marea_local.demo.workload import (
    Fleet,
    Workload,
    connections_publisher,
    cpu_publisher,
    load_trace,
    serving_units_publisher,
)
from marea_local.demo_resources import (
    create_fargate_service,
    create_kops_runner_cluster,
    create_web_asg,
    runner_environment,
)
from marea_local.embedded_aws import EmbeddedAws, PortUnavailable, start_embedded_aws
from marea_local.event_pump import EventPump
from marea_local.example_targets import NAMES, example_target
from marea_local.kops_local import run_runner_locally, seed_kops_cluster
from marea_local.local_fargate import LocalFargate
from marea_local.simulated_clock import SimulatedClock


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
        self.api = ApiProcess(args.port, args.verbose)
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

        self.api.check_port()
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
                # The runner's deadline is on the replay's clock, which runs behind the wall clock: tell it so,
                # or every run finds its deadline passed and changes nothing (as the reliability suite does).
                lambda task: run_runner_locally(
                    task, clock_ahead_s=(sim_clock.now() - datetime.now(UTC)).total_seconds()
                ),
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
            self.api.serve(self.aws.url if self.aws else "")
            if self.args.once:
                checked = self.api.check(self.chat)
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

    def shutdown(self) -> None:
        """Stop every part, saying which as it goes (a Ctrl-C should not leave anyone guessing what still runs)."""
        self.stop.set()
        self.api.stop()
        try:
            if self.chat is not None:
                say("stopping: the chat tier (its chat processes, their socket.io clients and redis-server)")
                self.chat.close()
        finally:
            if self.aws is not None:
                say(f"stopping: the embedded AWS on {self.aws.url} (its state goes with it)")
                self.aws.stop()
