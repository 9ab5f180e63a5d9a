"""Lambda cold start: wall time of a fresh interpreter that imports the app, against a floor.

The floor is a minimal Chalice app that imports boto3 (what every Python Lambda on Chalice pays).
Goal (issue #2): Marea's import <= 1.3 x the floor. Also reported: import + the first handler
invocation's deferred imports (Marea defers clients and Powertools to first use), so the
figure cannot hide cost by moving it.

The honest figure (issue #16): a fresh interpreter that imports the app and handles its first alarm
event end to end against the embedded AWS (the handler called as Lambda calls it: registry query,
capacity, metrics, commit, claim, SetDesiredCapacity, outcome, decision event), against a floor that
imports Chalice and boto3 and makes one boto3 call to the same embedded AWS. Both include the
interpreter's start. Goal: ratio <= 1.5. moto answers more slowly than AWS, which weighs on Marea's
several calls more than on the floor's one: the ratio is an upper bound.

Marea runs as Lambda holds it: from a copy of the project as Chalice bundles it, with the bytecode the zip
carries (marea_deploy/bytecode.py) and no writing of any (Lambda's code folder is read-only); the
dependencies are the venv's, compiled at install as vendor/ is.

Usage: .venv/bin/python bench/cold_start.py [--runs 15] [--event-runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from marea_deploy import bytecode  # noqa: E402 - run as a script: the repository's modules
from marea_deploy.project import project_copy  # noqa: E402

FLOOR_APP = 'import boto3\nfrom chalice import Chalice\n\napp = Chalice(app_name="floor")\n'
# What the first invocation of the alarm handler imports on top of `import app` (botocore for its clients;
# boto3 only on the tick's path, with Powertools Idempotency).
FIRST_INVOCATION = (
    "import app; from chalicelib import wiring, triggers, observability; "
    "observability.logger(); observability.metrics(); import botocore.session, botocore.client"
)


# The first event, as the Lambda runtime hands it to the handler (its context as Lambda gives it).
FIRST_EVENT = """
import json, os, types
import app
context = types.SimpleNamespace(
    function_name="marea-bench-on_alarm_state_change", function_version="$LATEST", memory_limit_in_mb=1024,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:marea-bench-on_alarm_state_change",
    aws_request_id="bench", log_group_name="bench", log_stream_name="bench",
    get_remaining_time_in_millis=lambda: 60_000,
)
result = app.on_alarm_state_change(json.loads(os.environ["BENCH_EVENT"]), context)
assert [d["outcome"] for d in result["decisions"]] == ["applied"], result
"""
FLOOR_CALL = """
import os
import boto3
from chalice import Chalice
app = Chalice(app_name="floor")
key = {"pk": {"S": "T#web"}, "sk": {"S": "TARGET"}}  # what the registry reads first
boto3.client("dynamodb").get_item(TableName=os.environ["MAREA_TARGETS_TABLE"], Key=key)
"""

# The first event's AWS work without Marea: the same operations on the same three services, made by a bare
# Chalice + boto3 script (one client per service; payloads alike in kind, not byte for byte). Marea's first
# event against this says what Marea itself adds; against the one-call floor, what the whole event costs.
SAME_CALLS = """
import os, json, uuid
import boto3
from chalice import Chalice
app = Chalice(app_name="floor")
table, group = os.environ["MAREA_TARGETS_TABLE"], os.environ["BENCH_ASG"]
dynamodb, autoscaling, events = boto3.client("dynamodb"), boto3.client("autoscaling"), boto3.client("events")
dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "T#web"}})
autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group])
item = {"pk": {"S": "FLOOR#" + str(uuid.uuid4())}, "sk": {"S": "DECISION"}, "body": {"S": "x" * 2000}}
dynamodb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item}}])
key = {"pk": item["pk"], "sk": item["sk"]}
claim = {":c": {"S": "x"}}
dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET claimed = :c", ExpressionAttributeValues=claim)
autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=3)
outcome = {"TableName": table, "Key": key, "UpdateExpression": "SET o = :c", "ExpressionAttributeValues": claim}
dynamodb.transact_write_items(TransactItems=[{"Update": outcome}])
events.put_events(Entries=[{"Source": "marea", "DetailType": "Decision", "Detail": json.dumps({"body": "x" * 1000})}])
"""


def wall_time(code: str, cwd: Path, runs: int, env: dict[str, str] | None = None) -> list[float]:
    env = {**(os.environ if env is None else env), "PYTHONDONTWRITEBYTECODE": "1"}  # as on Lambda's read-only code
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True, env=env)  # noqa: S603 - our own interpreter
        times.append(time.perf_counter() - start)
    return times


def lambda_task(folder: Path) -> Path:
    """The app as its Lambda zip holds it, in folder."""
    project_copy(folder)
    bytecode.compile_app(folder)
    return folder


def first_event(task: Path, runs: int) -> None:
    """The first alarm event of a fresh process, end to end, against a floor that makes one call."""
    import boto3
    from decision_latency import ASG, alarm_event, alarm_world, target_body

    from marea_local.data_stack import create_data_stack
    from marea_local.embedded_aws import start_embedded_aws

    server = start_embedded_aws()
    os.environ.update(server.environment())
    try:
        stack = create_data_stack(boto3.client("dynamodb"), boto3.client("sqs"), stage="bench")
        env = {
            **os.environ,
            **stack.environment(),
            "POWERTOOLS_TRACE_DISABLED": "1",  # tracing off, as deployed unless turned on
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "1",
        }
        os.environ.update(stack.environment())
        autoscaling, cloudwatch, now = alarm_world()
        from chalicelib import wiring
        from chalicelib.store.items import TARGET_ADAPTER

        wiring.reset()
        wiring.registry().put(TARGET_ADAPTER.validate_python(target_body()))
        event = alarm_event(cloudwatch, now + timedelta(seconds=30))
        events, floors, same_calls = [], [], []
        env["BENCH_ASG"] = ASG
        for _ in range(runs):  # interleaved, so that load from other processes falls on both alike
            autoscaling.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=2)  # so it scales again
            fresh = json.dumps({**event, "id": str(uuid.uuid4())})
            events += wall_time(FIRST_EVENT, task, 1, {**env, "BENCH_EVENT": fresh})
            floors += wall_time(FLOOR_CALL, ROOT, 1, env)
            autoscaling.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=2)
            same_calls += wall_time(SAME_CALLS, ROOT, 1, env)
    finally:
        server.stop()
    event_ms, floor_ms = statistics.median(events) * 1000, statistics.median(floors) * 1000
    print(f"first event: best {min(events) * 1000:.0f} ms, floor best {min(floors) * 1000:.0f} ms ({runs} runs each)")
    print(f"cold start, first event: {event_ms:.0f} ms vs floor {floor_ms:.0f} ms: ratio {event_ms / floor_ms:.2f}")
    same_ms = statistics.median(same_calls) * 1000
    print(
        f"the same AWS calls from a bare boto3 script: {same_ms:.0f} ms: "
        f"Marea's first event is {event_ms / same_ms:.2f} x that"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--event-runs", type=int, default=10, help="fresh processes handling a first alarm event")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {"empty": [], "floor": [], "app": [], "first": []}
    with tempfile.TemporaryDirectory() as floor_dir, tempfile.TemporaryDirectory() as task_dir:
        (Path(floor_dir) / "floor_app.py").write_text(FLOOR_APP, encoding="utf-8")
        task = lambda_task(Path(task_dir))
        wall_time("pass", ROOT, 2)  # warm the OS file cache
        # Interleaved, so that load from other processes falls on every figure alike.
        for _ in range(args.runs):
            figures["empty"] += wall_time("pass", ROOT, 1)
            figures["floor"] += wall_time("import floor_app", Path(floor_dir), 1)
            figures["app"] += wall_time("import app", task, 1)
            figures["first"] += wall_time(FIRST_INVOCATION, task, 1)
        report(figures, args.runs)
        first_event(task, args.event_runs)


def report(figures: dict[str, list[float]], runs: int) -> None:
    print(f"runs per figure: {runs}, interleaved; best (least disturbed) and median wall time of a fresh interpreter")
    floor_best, floor_median = min(figures["floor"]), statistics.median(figures["floor"])
    for key, label in (
        ("empty", "empty interpreter"),
        ("floor", "floor (Chalice + boto3)"),
        ("app", "import app (Marea), goal <= 1.30 x floor"),
        ("first", "import app + first-invocation imports"),
    ):
        best, median = min(figures[key]), statistics.median(figures[key])
        print(
            f"{label:<42} best {best * 1000:5.0f} ms ({best / floor_best:.2f} x floor)   "
            f"median {median * 1000:5.0f} ms ({median / floor_median:.2f} x floor)"
        )


if __name__ == "__main__":
    main()
