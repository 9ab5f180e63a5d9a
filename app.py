"""Marea's Chalice app: wiring only. Each handler hands its input to one chalicelib function.

Importing this module is the Lambda's cold start (a measured figure: bench/cold_start.py), so it
loads only Chalice and import-light modules; each handler imports the use cases on first call.
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import Chalice

from chalicelib import observability
from chalicelib.api.backtest import backtests
from chalicelib.api.console import console
from chalicelib.api.errors import chalice_errors_in_marea_shape
from chalicelib.api.routes import api
from chalicelib.constants import RUNNER_TASK_GROUP
from chalicelib.envelopes import lenient

# Marea uses no pydantic plugin: without this, building the first model scans every installed package's
# entry points for one (importlib.metadata, about 35 ms of a cold start). A value set outside is kept.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

# Deploy-time wiring that Chalice must know when it reads this module (`chalice deploy/package`);
# the runtime settings proper live in chalicelib.settings and are read on first use.
SCHEDULE_EXPRESSION = os.environ.get("MAREA_SCHEDULE_EXPRESSION", "rate(1 minute)")
FANOUT_QUEUE_NAME = os.environ.get("MAREA_FANOUT_QUEUE_NAME", "marea-dev-evaluations")

# configure_logs=False: Powertools' Logger owns logging (otherwise every line prints twice).
app = Chalice(app_name="marea", configure_logs=False)
app.register_middleware(observability.middleware, "all")
app.register_middleware(chalice_errors_in_marea_shape, "http")
app.register_blueprint(api)
app.register_blueprint(backtests)
app.register_blueprint(console)


@app.on_cw_event(
    {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}, name="on_alarm_state_change"
)
def on_alarm_state_change(event: Any) -> dict[str, Any]:
    from chalicelib import triggers

    return triggers.on_alarm_event(event.to_dict(), event.context)


@app.schedule(SCHEDULE_EXPRESSION, name="on_schedule_tick")
def on_schedule_tick(event: Any) -> dict[str, Any]:
    from chalicelib import triggers

    return triggers.on_schedule_tick(event.to_dict(), event.context)


@app.on_cw_event(
    {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {"group": [RUNNER_TASK_GROUP], "lastStatus": ["STOPPED"]},
    },
    name="on_runner_task_stopped",
)
def on_runner_task_stopped(event: Any) -> dict[str, Any]:
    from chalicelib import triggers

    return triggers.on_task_state_change(event.to_dict())


# One message per invocation: each message is a tick's share of up to 100 targets whose reads are made
# together; a share is then evaluated in seconds, and retried alone if it fails. At most 10 shares at
# once, so that 10,000 targets' DescribeServices calls spread over the tick instead of bursting past
# ECS's 20 a second (docs/scaling-marea.md, "The quota model").
EVALUATION_CONCURRENCY = 10


@app.on_sqs_message(
    queue=FANOUT_QUEUE_NAME, batch_size=1, maximum_concurrency=EVALUATION_CONCURRENCY, name="on_evaluation_message"
)
def on_evaluation_message(event: Any) -> list[dict[str, Any]]:
    from chalicelib import triggers

    return [triggers.on_evaluation_message(record.body, record.to_dict()["messageId"]) for record in event]


lenient(on_alarm_state_change, on_schedule_tick, on_runner_task_stopped)
