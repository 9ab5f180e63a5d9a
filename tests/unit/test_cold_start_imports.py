"""`import app` is the Lambda's cold start: it must not load what the handlers load on first call.

A guard on what gets imported, not a timing (bench/cold_start.py measures the time).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "boto3", "botocore", "aws_lambda_powertools", "chalicelib.wiring", "chalicelib.engine")


def test_import_app_loads_no_heavy_module() -> None:
    probe = f"import sys, app; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    loaded = subprocess.run(  # noqa: S603 - our own interpreter on our own module
        [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    assert loaded == "", f"import app loaded {loaded}: import them inside the handler or route instead"


def test_the_app_still_declares_every_handler_and_route() -> None:
    import app

    assert {"on_alarm_state_change", "on_schedule_tick", "on_runner_task_stopped", "on_evaluation_message"} <= set(
        app.app.handler_map
    )
    assert {"/decisions", "/targets/{target_id}", "/targets/{target_id}/evaluate", "/openapi.json"} <= set(
        app.app.routes
    )


@pytest.mark.parametrize(
    ("environment", "traced"),
    [
        ({}, False),  # not in Lambda, or no trace header
        ({"_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=0"}, False),
        ({"_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1"}, True),
        (
            {
                "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                "POWERTOOLS_TRACE_DISABLED": "true",
            },
            False,
        ),
    ],
)
def test_an_untraced_invocation_never_loads_the_x_ray_sdk(environment: dict[str, str], traced: bool) -> None:
    """The middleware around a handler, in a fresh interpreter: the X-Ray SDK only for a sampled invocation."""
    probe = (
        "import sys, types; from chalicelib import observability; "
        "event = types.SimpleNamespace(to_dict=lambda: {'id': 'e-1'}, context=None); "
        "assert observability.middleware(event, lambda e: 'answered') == 'answered'; "
        "print(observability.traced(), 'aws_xray_sdk' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("_X_AMZN_TRACE_ID", "POWERTOOLS_TRACE_DISABLED")}
    env.update({"POWERTOOLS_METRICS_DISABLED": "1", "AWS_LAMBDA_FUNCTION_NAME": "marea-test", **environment})
    printed = subprocess.run(  # noqa: S603 - our own interpreter on our own module
        [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True, env=env
    ).stdout.split()[-2:]
    assert printed == [str(traced), str(traced)]


def test_the_alarm_paths_modules_and_clients_load_no_boto3() -> None:
    """Marea's clients are botocore's own: boto3 (and s3transfer, which it imports) stay out of the alarm path.
    No call is made: the clients are only built."""
    probe = (
        "import sys; from chalicelib import triggers, wiring, aws; "
        "[make() for make in (aws.dynamodb, aws.autoscaling, aws.cloudwatch, aws.ecs, aws.events, aws.sqs)]; "
        "print(*(m in sys.modules for m in ('botocore.client', 'boto3', 's3transfer')))"
    )
    assert _with_fake_credentials(probe).split() == ["True", "False", "False"]


def test_marea_names_itself_in_every_requests_user_agent() -> None:
    """CloudTrail's userAgent shows what made a call: without boto3's name in it, Marea's own (app/marea) says so."""
    probe = (
        "from chalicelib import aws; captured = []; client = aws.autoscaling()\n"
        "def capture(request, **_):\n"
        "    agent = request.headers['User-Agent']\n"
        "    captured.append(agent.decode() if isinstance(agent, bytes) else agent)\n"
        "    raise SystemExit(0)\n"
        "client.meta.events.register('before-send.*.*', capture)\n"
        "try: client.describe_auto_scaling_groups()\n"
        "except SystemExit: pass\n"
        "print(captured[0])\n"
    )
    assert "app/marea" in _with_fake_credentials(probe).split()


def _with_fake_credentials(probe: str) -> str:
    """What ``probe`` prints in a fresh interpreter that may build clients (fake credentials; no call gets out)."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    return subprocess.run(  # noqa: S603 - our own interpreter on our own module
        [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()
