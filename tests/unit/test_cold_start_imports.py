"""`import app` is the Lambda's cold start: it must not load what the handlers load on first call.

A guard on what gets imported, not a timing (bench/cold_start.py measures the time).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
