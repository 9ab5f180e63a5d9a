"""`make demo` unattended: the replay scales the workloads (the chat tier for real: chat processes,
socket.io clients and the chat's own EMF metric), the replayed minutes are backtested and charted,
then the API answers over HTTP."""

from __future__ import annotations

import json
import re
import socket
import struct
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from playwright.sync_api import expect

from marea_backtest import World, run_backtest, trace_from_rates
from marea_local.demo import REPLAY_START_MINUTE
from marea_local.demo.workload import load_trace
from marea_local.embedded_aws import FAKE_CREDENTIALS
from tests.integration.console_browser import chromium, click_marker, open_console
from tests.integration.held_demo import DEMO_TIMEOUT_S, HeldDemo, held_demo_fixture  # noqa: F401 - a fixture

REPLAYED_MINUTES = 150
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TABLE_LINE = re.compile(
    r"^ +(?P<policy>marea|aws-target-tracking) +(?P<pct>[\d.]+) % \((?P<under>\d+) min\) +(?P<unit_hours>[\d.]+)"
    r" +(?P<actions>\d+) \((?P<outs>\d+) out, (?P<ins>\d+) in\)$",
    re.MULTILINE,
)


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
HOSTILE = '<script>window.__marea_xss = 1</script><img src=x onerror="window.__marea_xss = 2"> scaled by a script?'


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _put_hostile_decision(demo: HeldDemo) -> str:
    """A decision of 'web' whose explanation is markup, written into the demo's log as put_new writes one."""
    from chalicelib.ids import decision_id
    from chalicelib.models.decisions import Decision
    from chalicelib.store.items import decision_item

    newest = _get(f"{demo.url}/decisions?target=web&limit=1")["decisions"][0]
    at = datetime.fromisoformat(newest["created_at"]) + timedelta(seconds=1)
    made = Decision.model_validate({**newest, "id": decision_id(at), "created_at": at, "explanation": HOSTILE})
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=demo.aws_url,
        region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    dynamodb.put_item(TableName="marea-local-decisions", Item=decision_item(made, 2_000_000_000))
    return made.id


@pytest.mark.timeout(DEMO_TIMEOUT_S + 120)
def test_the_console_shows_the_demo_its_timeline_filters_switches_and_renders_markup_as_text(
    held_demo: HeldDemo,
) -> None:
    assert held_demo.process.poll() is None, "".join(held_demo.lines)[-3000:]
    hostile_id = _put_hostile_decision(held_demo)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with chromium() as browser:
        page = open_console(browser, f"{held_demo.url}/console", problems)
        rows = page.locator("#targets tbody tr")
        expect(rows).to_have_count(3)
        assert sorted(page.locator("#targets tbody tr").evaluate_all("rs => rs.map(r => r.dataset.target)")) == [
            "chat",
            "nodes",
            "web",
        ]
        page.screenshot(path=ARTIFACTS / "targets.png", full_page=True)

        # The web tier's first scale-out of the replay, as a marker on its timeline, clicked: its sentence.
        page.locator("#targets tr[data-target=web] button[data-action=timeline]").click()
        page.wait_for_function("() => Chart.getChart('timeline') !== undefined")
        click_marker(page, "Scale out from 2 to")
        expect(page.locator("#marker-explanation")).to_contain_text("Scale out from 2 to")
        expect(page.locator("#marker-outcome")).to_have_text("applied")
        page.screenshot(path=ARTIFACTS / "timeline-web.png", full_page=True)

        # A filter narrows the list: only web's applied decisions.
        everyone = page.locator("#decisions tbody tr").count()
        page.select_option("#filters select[name=target]", "web")
        page.select_option("#filters select[name=outcome]", "applied")
        page.locator("#filters button[type=submit]").click()
        expect(page.locator("#decisions tbody tr td.outcome").first).to_have_text("applied")
        cells = page.locator("#decisions tbody tr").evaluate_all(
            "rs => rs.map(r => [r.children[1].textContent, r.children[2].textContent])"
        )
        assert cells
        assert all(cell == ["web", "applied"] for cell in cells)
        assert len(cells) < everyone

        # Markup in an explanation is text: shown as written, never run.
        page.select_option("#filters select[name=outcome]", "")
        page.locator("#filters button[type=submit]").click()
        hostile = page.locator(f"#decisions tr[data-decision='{hostile_id}'] td.why")
        expect(hostile).to_have_text(HOSTILE)
        assert page.evaluate("() => window.__marea_xss") is None
        assert page.locator("#decisions img").count() == 0

        # The mode switch (confirmed) changes the target, as the API then says.
        page.locator("#targets tr[data-target=web] button[data-action=advise]").click()
        expect(page.locator("#targets tr[data-target=web] td.mode")).to_have_text("advise")
        page.screenshot(path=ARTIFACTS / "decisions.png", full_page=True)
    assert _get(f"{held_demo.url}/targets/web")["mode"] == "advise"
    assert problems == []


@pytest.mark.timeout(DEMO_TIMEOUT_S + 60)
def test_the_demo_replays_the_spike_scales_out_backtests_and_serves_the_api(held_demo: HeldDemo) -> None:
    # Last in this module: the console test above reads the held demo's API first.
    result = held_demo.stop()
    chart = held_demo.chart
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
