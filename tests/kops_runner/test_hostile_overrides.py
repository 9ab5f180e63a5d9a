"""A RunTask caller's overrides cannot run code in the runner, steer kops, or choose what the runner does.

Two ways in: the image's own entrypoint (`python -I -m kops_runner`, from the Dockerfile) run on a copy of the
image's files, with every hostile variable we know of; and the testing entry on the embedded AWS, where
moto's ECS records the overrides of a RunTask and the runner reads them back as on Fargate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kops_runner import __main__ as entrypoint
from kops_runner import isolation, task
from kops_runner.aws import AwsClients
from marea_local.kops_local import run_runner_locally
from tests.kops_runner.conftest import NODES, KopsWorld

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "kops_runner" / "Dockerfile").read_text()


class Recorder(BaseHTTPRequestHandler):
    """Any HTTP server a caller could point the runner at: it only notes that it was asked."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/c/x", "Cluster": "c", "Name": "x"}')

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Seen", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def image(tmp_path: Path) -> list[str]:
    """The image's files (what its COPY lines take) in a fresh interpreter environment whose site-packages has
    the image's .pth and this venv's packages; returns the Dockerfile's ENTRYPOINT with that interpreter."""
    app = tmp_path / "app"
    (app / "kops_runner").mkdir(parents=True)
    (app / "chalicelib").mkdir()
    for module in (ROOT / "kops_runner").glob("*.py"):
        shutil.copy(module, app / "kops_runner" / module.name)
    shutil.copy(ROOT / "chalicelib" / "kops_names.py", app / "chalicelib" / "kops_names.py")
    venv = tmp_path / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)  # type: ignore[attr-defined]  # noqa: S603
    python = venv / "bin" / "python"
    purelib = subprocess.run(  # noqa: S603
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    # The image's .pth puts /app on sys.path; here, also this venv's packages (boto3, pydantic, PyYAML).
    Path(purelib, "marea-kops-runner.pth").write_text(f"{app}\n{sysconfig.get_paths()['purelib']}\n")
    [entrypoint] = [line for line in DOCKERFILE.splitlines() if line.startswith("ENTRYPOINT ")]
    argv: list[str] = json.loads(entrypoint.removeprefix("ENTRYPOINT "))
    assert argv[0] == "python"
    return [str(python), *argv[1:]]


def marker_script(path: Path, marker: Path) -> Path:
    path.write_text(f"#!/bin/sh\necho ran > {marker}\n")
    path.chmod(0o755)
    return path


def test_the_images_entrypoint_runs_no_code_of_the_callers_choosing(
    tmp_path: Path, recorder: tuple[str, list[str]]
) -> None:
    """What this proves: `python -I` ignores the PYTHON* variables and the working directory, and a metadata
    endpoint off Fargate's host is refused before anything is asked of it. The run stops there, so it does not
    prove that KOPS_BINARY, PATH, BASH_ENV, KOPS_BASE_URL or AWS_* are ignored: the next test (production
    `main()`) and test_kops_gets_none_of_the_containers_variables do."""
    url, seen = recorder
    entrypoint = image(tmp_path)
    marker = tmp_path / "marker"
    evil = tmp_path / "evil"
    (evil / "bin").mkdir(parents=True)
    (evil / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').write('sitecustomize')\n")
    (evil / "startup.py").write_text(f"open({str(marker)!r}, 'w').write('startup')\n")
    marker_script(evil / "bin" / "kops", marker)
    hostile = {
        "KOPS_BINARY": str(marker_script(evil / "kops-binary", marker)),
        "PATH": f"{evil / 'bin'}:/usr/bin:/bin",
        "PYTHONPATH": str(evil),
        "PYTHONSTARTUP": str(evil / "startup.py"),
        "PYTHONHOME": str(evil),  # honoured, it would not even start: its standard library is not there
        "PYTHONINSPECT": "1",
        "BASH_ENV": str(marker_script(evil / "bash-env", marker)),
        "ENV": str(evil / "bash-env"),
        "KOPS_BASE_URL": f"{url}/nodeup",
        "KOPS_STATE_STORE": "s3://evil-state",
        "AWS_ENDPOINT_URL": url,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{url}/credentials",
        # a task metadata endpoint of the caller's own: refused, never asked
        "ECS_CONTAINER_METADATA_URI_V4": f"{url}/v4/evil",
        "MAREA_DECISION_ID": "01J0000000000000000000000A",
    }

    result = subprocess.run(  # noqa: S603
        entrypoint,
        env=hostile,
        cwd=evil,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )

    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (result.returncode, outcome["status"]) == (2, "bad_request"), result.stderr
    assert "ECS_CONTAINER_METADATA_URI_V4 is not on Fargate's task metadata host 169.254.170.2" in outcome["message"]
    assert not marker.exists(), marker.read_text()
    assert seen == []  # no metadata read, no AWS call, nothing asked of the caller's server


class FirstClient(Exception):
    """Raised where the production entrypoint builds its first AWS client: the test has seen what it needs."""


def test_production_main_cuts_the_environment_before_it_builds_any_aws_client(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The task metadata endpoint cannot answer here (a double of task.identify); every other step is production's.
    hostile = {
        **{name: "/v2/credentials/0b1c" if name.endswith("URI") else "AWS_ECS_FARGATE" for name in isolation.KEPT},
        "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/0b1c-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ENDPOINT_URL_ECS": "http://127.0.0.1:9",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/credentials",
        "AWS_CA_BUNDLE": "/scratch/ca.pem",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "KOPS_BINARY": "/scratch/kops",
        "AWS_REGION": "xx-evil-1",
    }
    monkeypatch.setattr(os, "environ", dict(hostile))  # main() clears os.environ: never this process's own
    asked: list[str] = []

    def identify(endpoint: str) -> task.TaskIdentity:
        asked.append(endpoint)
        return task.TaskIdentity(f"arn:aws:ecs:eu-west-1:123456789012:task/c/{'0' * 32}", "c", "kops-runner")

    seen: list[tuple[dict[str, str], AwsClients, str]] = []

    def first_client(self: AwsClients, service: str) -> Any:
        seen.append((dict(os.environ), self, service))
        raise FirstClient

    monkeypatch.setattr(task, "identify", identify)
    monkeypatch.setattr(AwsClients, "_client", first_client)

    code = entrypoint.main()

    assert asked == ["http://169.254.170.2/v4/0b1c-1"]
    [(environment, clients, service)] = seen
    assert environment == {name: hostile[name] for name in isolation.KEPT} | isolation.PINNED
    assert (clients.endpoint_url, clients.credentials, clients.region, service) == (None, {}, "eu-west-1", "ecs")
    assert code == 1
    assert json.loads(capsys.readouterr().out)["status"] == "error"


def hostile_overrides(decision_id: str, tmp_path: Path) -> list[dict[str, Any]]:
    return [
        {
            "name": "kops-runner",
            "command": ["-c", "import os; os.system('id')"],
            "environment": [
                {"name": "MAREA_DECISION_ID", "value": decision_id},
                {"name": "KOPS_BINARY", "value": str(marker_script(tmp_path / "kops", tmp_path / "marker"))},
                {"name": "PYTHONPATH", "value": str(tmp_path)},
                {"name": "BASH_ENV", "value": str(tmp_path / "kops")},
                {"name": "KOPS_BASE_URL", "value": "http://127.0.0.1:9/nodeup"},
                {"name": "MAREA_MAX_NODES", "value": "100000"},
            ],
        }
    ]


def test_a_runtask_with_more_overrides_than_the_decision_id_is_refused_and_changes_nothing(
    world: KopsWorld, tmp_path: Path
) -> None:
    decision_id = world.new_decision(7, 9)
    kops_calls = tmp_path / "kops-calls"

    code, outcome = run_runner_locally(
        world.start(decision_id, overrides=hostile_overrides(decision_id, tmp_path)), record_kops_env=kops_calls
    )

    assert (code, outcome["status"]) == (2, "bad_request")
    message = outcome["message"]
    assert message.startswith("refused: the task's overrides set more than MAREA_DECISION_ID on kops-runner: ")
    for name in ("command", "KOPS_BINARY", "PYTHONPATH", "BASH_ENV", "KOPS_BASE_URL", "MAREA_MAX_NODES"):
        assert name in message
    assert "os.system" not in message
    assert "127.0.0.1:9" not in message  # names, never values
    # Not recorded on the decision: a refused task is not the one Marea started; its outcome is on stdout only.
    assert world.runner_result(decision_id) is None
    assert not kops_calls.exists()  # kops never ran
    assert not (tmp_path / "marker").exists()
    assert (world.ig_sizes(), world.asg_sizes()) == ((2, 2), (2, 2))


@pytest.mark.parametrize("extra", [{"taskRoleArn": "arn:aws:iam::123456789012:role/admin"}, {"memory": "4096"}])
def test_task_level_overrides_are_refused_too(world: KopsWorld, tmp_path: Path, extra: dict[str, str]) -> None:
    decision_id = world.new_decision(3, 5)

    code, outcome = run_runner_locally(world.start(decision_id, **extra))

    assert (code, outcome["status"]) == (2, "bad_request")
    assert next(iter(extra)) in outcome["message"]
    assert world.ig_sizes() == (2, 2)


def test_kops_gets_none_of_the_containers_variables(world: KopsWorld, tmp_path: Path) -> None:
    # The task definition registers KOPS_STATE_STORE and KOPS_CLUSTER_NAME for the runner: kops must not see them.
    decision_id = world.new_decision(3, 5)
    kops_calls = tmp_path / "kops-calls"

    code, outcome = run_runner_locally(world.start(decision_id), record_kops_env=kops_calls)

    assert (code, outcome["status"]) == (0, "applied")
    environments = [json.loads(line) for line in kops_calls.read_text().splitlines()]
    assert len(environments) == 5  # version, get, edit, update, get
    for environment in environments:
        # LC_CTYPE: set by the double's own Python at its start (PEP 538 locale coercion), not given by the runner.
        environment.pop("LC_CTYPE", None)
        assert set(environment) <= {
            "HOME", "PATH", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EXECUTION_ENV", "AWS_REGION",
            "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED",
        }  # fmt: skip
        assert environment["PATH"] == "/usr/local/bin:/usr/bin:/bin"
        assert environment["AWS_REGION"] == "us-east-1"
    assert world.ig_sizes() == (3, 5)
    assert NODES in outcome["message"]
