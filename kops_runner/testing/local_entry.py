"""TESTING ENTRY of the kops runner: the same `run.main` as on Fargate, where Fargate is not (never in the image).

moto's ECS starts no containers and there is no task metadata endpoint here, so marea_local's
LocalFargate runs this instead of the image's `python -I -m kops_runner`. Only three things differ
from production (kops_runner/__main__.py), all given as arguments, none read from the environment:
- the task is the one named by --task-arn/--cluster/--container (what the metadata endpoint would say);
  DescribeTasks and DescribeTaskDefinition then run for real, against the embedded AWS;
- the runner's AWS clients use --endpoint-url (the embedded AWS on 127.0.0.1) with test credentials;
- kops is the test double (kops_double.py), behind a wrapper that adds the embedded AWS's endpoint to
  the minimal environment the runner gives kops (and --double-env, the double's test controls).
--clock-ahead-s moves the runner's clock, for scenarios whose evaluator runs on simulated time.
--record-aws-calls FILE appends every AWS call of the runner and of the double to FILE (testing/call_log.py),
for the tests to check against the runner's IAM role.
The process environment is cut as in production (isolation.isolate) before anything else runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kops_runner import isolation, run
from kops_runner.aws import AwsClients
from kops_runner.task import TaskIdentity
from kops_runner.testing import call_log

KOPS_DOUBLE = Path(__file__).resolve().parent / "kops_double.py"
REPOSITORY = Path(__file__).resolve().parents[2]
TEST_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # nosec B105 - moto's fake credentials


def double_executable(
    directory: Path, environment: Mapping[str, str], record_to: Path | None = None, record_aws_calls: Path | None = None
) -> Path:
    """A `kops` (a Python script, no shell) that runs the double with ``environment`` added to its own.

    ``record_to``: each call appends the environment kops was given (before the addition), as JSON, one line a call.
    ``record_aws_calls``: the double's AWS calls are appended there (call_log.py), as the runner's are.
    """
    path = directory / "kops"
    path.write_text(
        f"#!{sys.executable} -I\n"
        "import json, os, runpy, sys\n"
        f"record = {str(record_to) if record_to else None!r}\n"
        "if record:\n"
        "    with open(record, 'a') as out:\n"
        "        out.write(json.dumps(dict(os.environ)) + '\\n')\n"
        f"calls = {str(record_aws_calls) if record_aws_calls else None!r}\n"
        "if calls:\n"
        f"    sys.path.insert(0, {str(REPOSITORY)!r})\n"
        "    from pathlib import Path\n"
        "    from kops_runner.testing.call_log import record_default_session\n"
        "    record_default_session(Path(calls), 'kops double', os.environ.get('AWS_REGION', ''))\n"
        f"os.environ.update({dict(environment)!r})\n"
        f"sys.argv[0] = {str(KOPS_DOUBLE)!r}\n"
        f"runpy.run_path({str(KOPS_DOUBLE)!r}, run_name='__main__')\n"
    )
    path.chmod(0o755)
    return path


def embedded_aws(endpoint_url: str) -> dict[str, str]:
    """What the double needs to reach the embedded AWS (kops itself would use the task role, in the task's region)."""
    fake = "testing"  # nosec B105 - moto's fake credentials
    return {"AWS_ENDPOINT_URL": endpoint_url, "AWS_ACCESS_KEY_ID": fake, "AWS_SECRET_ACCESS_KEY": fake}


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kops_runner.testing.local_entry")
    parser.add_argument("--task-arn", required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--container", default="kops-runner")
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--double-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--record-kops-env", type=Path)
    parser.add_argument("--clock-ahead-s", type=float, default=0.0)
    parser.add_argument("--record-aws-calls", type=Path)
    return parser.parse_args(argv)


@dataclass(frozen=True)
class RecordingAwsClients(AwsClients):
    """The runner's clients, each appending its calls to ``record_to`` (when set)."""

    record_to: Path | None = None

    def _client(self, service: str) -> Any:
        built = super()._client(service)
        return call_log.record_client(built, self.record_to, "runner") if self.record_to else built


def local(
    identity: TaskIdentity,
    endpoint_url: str,
    kops_binary: str,
    clock_ahead_s: float = 0.0,
    record_aws_calls: Path | None = None,
) -> run.Platform:
    """The platform of a runner for ``identity`` on the embedded AWS at ``endpoint_url``."""
    ahead = timedelta(seconds=clock_ahead_s)
    return run.Platform(
        identify=lambda: identity,
        aws=lambda region: RecordingAwsClients(
            region, endpoint_url=endpoint_url, credentials=TEST_CREDENTIALS, record_to=record_aws_calls
        ),
        kops_binary=kops_binary,
        kops_environment=lambda region, home: isolation.kops_environment(os.environ, region, home),
        now=lambda: datetime.now(UTC) + ahead,
    )


def main(argv: list[str]) -> int:
    arguments = _arguments(argv)
    isolation.isolate(os.environ)
    double_env = dict(pair.split("=", 1) for pair in arguments.double_env)
    embedded = {**embedded_aws(arguments.endpoint_url), **double_env}
    with tempfile.TemporaryDirectory(prefix="marea-kops-") as scratch:
        calls = arguments.record_aws_calls
        kops = double_executable(Path(scratch), embedded, arguments.record_kops_env, calls)
        identity = TaskIdentity(arguments.task_arn, arguments.cluster, arguments.container)
        return run.main(local(identity, arguments.endpoint_url, str(kops), arguments.clock_ahead_s, calls))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
