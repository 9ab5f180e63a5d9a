"""`make demo` unattended: the replay scales the workloads (the chat tier for real: chat processes,
socket.io clients and the chat's own EMF metric), the replayed minutes are backtested and charted,
then the API answers over HTTP."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from marea_backtest import World, run_backtest, trace_from_rates
from marea_local.demo import REPLAY_START_MINUTE
from marea_local.embedded_aws import free_port
from marea_local.workload import load_trace

ROOT = Path(__file__).resolve().parents[2]
REPLAYED_MINUTES = 150
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TABLE_LINE = re.compile(
    r"^ +(?P<policy>marea|aws-target-tracking) +(?P<pct>[\d.]+) % \((?P<under>\d+) min\) +(?P<unit_hours>[\d.]+)"
    r" +(?P<actions>\d+) \((?P<outs>\d+) out, (?P<ins>\d+) in\)$",
    re.MULTILINE,
)


# The demo takes 1.5-3.5 min on a 2-core machine, depending on what else runs: room to spare, not a timing.
DEMO_TIMEOUT_S = 600


@pytest.mark.timeout(DEMO_TIMEOUT_S + 60)
def test_the_demo_replays_the_spike_scales_out_backtests_and_serves_the_api(tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "backtest.png"
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "marea_local.demo",
            "--once",
            "--minutes",
            str(REPLAYED_MINUTES),
            "--seconds-per-minute",
            "0",
            "--port",
            str(free_port()),
            "--chart",
            str(chart),
            "--chat",
            "real",  # fail, rather than fall back to the simulation, if redis-server is missing
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_S,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, output[-3000:] + result.stderr[-3000:]
    assert "web applied: Scale out from 2 to" in output
    assert "chat applied: Scale out from" in output
    assert "nodes pending: Scale out from 2 to" in output  # the kops instance group, through the runner
    assert "nodes applied: the kops runner finished; instance group nodes size" in output
    assert "API check: GET /decisions?target=web&limit=3 -> 3 decisions" in output
    # The POST /backtest examples it prints answer on its own targets (CPU- and connections-scaled, with step policies).
    assert 'API check: POST /backtest {"target": "web"' in output
    assert "minutes of CPUUtilization (Average) x GroupInServiceInstances x 250 / 100" in output
    assert 'API check: POST /backtest {"target": "chat"' in output
    assert "minutes of ConnectedClients (Average) x RunningTaskCount" in output
    assert "Traceback" not in output + result.stderr
    events = re.search(r"^decision events on EventBridge \(.*\): (\d+) \(applied (\d+)", output, re.MULTILINE)
    assert events, output[-3000:]
    assert int(events[2]) > 0  # the web tier's scale-outs, at least, were announced
    assert_the_chat_tier_was_real_and_scaled_from_its_own_metric(output)
    assert_the_backtest_is_printed_and_charted(output, chart)


CHAT_CHECK = re.compile(
    r"^API check: GET /decisions\?target=chat -> the latest decision on the chat's metric read (?P<read>\d+) "
    r"ConnectedClients per task datapoints \(last: (?P<values>[\d., ]+)\); (?P<matched>\d+) of them are what the "
    r"awslogs stand-in put from the real chat instances' EMF lines",
    re.MULTILINE,
)


CHAT_PORT = re.compile(r"redis-server on 127\.0\.0\.1:(\d+)|chat-\d+ :(\d+)|started chat-\d+ on 127\.0\.0\.1:(\d+)")


def assert_the_chat_tier_was_real_and_scaled_from_its_own_metric(output: str) -> None:
    """Real chat processes followed Marea's desiredCount, real clients connected, and the chat decision
    the API serves read exactly the datapoints the awslogs stand-in made from the chat's EMF lines."""
    assert "chat tier: REAL." in output
    assert "(1 real client = 20 users)" in output
    assert re.search(r"chat: desiredCount \d+: started chat-3 on 127\.0\.0\.1:\d+", output)
    assert re.search(
        r"chat: desiredCount \d+: deregistered chat-\d+ \(\d+ clients reconnect to the others\), SIGTERM", output
    )
    assert re.search(r"chat: chat-\d+ drained and exited 0 after its SIGTERM", output)
    summary = re.search(
        r"^chat tier \(real\): (\d+) chat processes started .* at most (\d+) real clients", output, re.M
    )
    assert summary, output[-3000:]
    assert int(summary[1]) >= 3
    assert 0 < int(summary[2]) <= 400
    check = CHAT_CHECK.search(output)
    assert check, output[-3000:]
    assert int(check["read"]) >= 10  # the scale-in window of 'connections-per-task'
    assert int(check["matched"]) == int(check["read"])
    assert all(float(value) > 0 for value in check["values"].split(", "))
    # Every process the demo started is gone: nothing answers on redis-server's or any chat instance's port.
    ports = [int(next(port for port in found if port)) for found in CHAT_PORT.findall(output)]
    assert len(ports) >= 4  # redis-server, chat-1, chat-2, chat-3
    for port in ports:
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"


def assert_the_backtest_is_printed_and_charted(output: str, chart: Path) -> None:
    """The printed table is what a direct backtest of the replayed minutes gives, and the chart is a real PNG."""
    assert "backtest of 1995-07-13 06:00-08:30 EDT for 'web'" in output
    assert f"  chart: {chart}" in output
    assert output.index("backtest of 1995-07-13") < output.index("API check:")  # before the demo serves the API
    png = chart.read_bytes()
    assert png[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk, first after the signature
    assert width >= 1000
    assert height >= 600
    assert 20_000 < len(png) < 2_000_000

    start = datetime(1995, 7, 13, 6, 0, tzinfo=ZoneInfo("America/New_York"))
    # The registered 'web' target (ASG: ec2; min 2, max 20, CPU target 60 %); an instance serves
    # 250 demand/min at 100 % CPU and demand is 5x the trace's requests: 50 requests/min.
    world = World(kind="ec2", unit_capacity=50, target_utilization=60, min_units=2, max_units=20, start=start)
    requests = load_trace()[REPLAY_START_MINUTE : REPLAY_START_MINUTE + REPLAYED_MINUTES]
    printed = {match["policy"]: match for match in TABLE_LINE.finditer(output)}
    assert sorted(printed) == ["aws-target-tracking", "marea"]
    for policy, line in printed.items():
        s = run_backtest(trace_from_rates("NASA", requests), policy, world).summary
        assert float(line["pct"]) == round(s.under_provisioned_pct, 1)
        assert int(line["under"]) == s.under_provisioned_minutes
        assert float(line["unit_hours"]) == round(s.unit_hours, 1)
        assert (int(line["actions"]), int(line["outs"]), int(line["ins"])) == (
            s.scaling_actions,
            s.scale_outs,
            s.scale_ins,
        )
