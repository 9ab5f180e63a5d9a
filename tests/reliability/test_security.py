"""Security: IAM auth on every route, no secrets in the repository or the logs, bandit, hash-locked dependencies."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from marea_local.embedded_aws import EmbeddedAws
from tests.reliability.audit import read_decisions
from tests.reliability.delivery import Delivery, Plan, invoke, run_threads
from tests.reliability.embedded import forget_wiring, fresh_stack
from tests.reliability.faults import FaultPlan
from tests.reliability.scenarios import ALARM, TICK
from tests.reliability.world import alarm_event, aws_clients, build_fleet, tick_event

ROOT = Path(__file__).resolve().parents[2]


# ---- IAM auth --------------------------------------------------------------------------------


def test_every_route_requires_iam_auth() -> None:
    """The app object: every route of every method carries the IAM (SigV4) authorizer.

    Deployed stages: tests/infra/test_chalice_package.py checks the same on the packaged template
    (dev and prod), which this test makes sure is still there.
    """
    from chalice.app import IAMAuthorizer

    from app import app

    routes = [(path, method, entry) for path, methods in app.routes.items() for method, entry in methods.items()]
    assert len(routes) >= 8
    unauthorised = [
        f"{method} {path}" for path, method, entry in routes if not isinstance(entry.authorizer, IAMAuthorizer)
    ]
    assert unauthorised == []
    packaged_check = (ROOT / "tests" / "infra" / "test_chalice_package.py").read_text(encoding="utf-8")
    assert "def test_every_api_route_requires_sigv4" in packaged_check


def test_the_api_description_requires_sigv4_everywhere() -> None:
    from chalicelib.api.openapi import openapi_document

    document = openapi_document()
    assert document["security"] == [{"sigv4": []}]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert all("security" not in op for path in document["paths"].values() for op in path.values())


# ---- secrets ---------------------------------------------------------------------------------

# Files scanned: everything git knows or would add, but the traffic trace (numbers only, 15 MB).
SECRET_SCAN_EXCLUDE = re.compile(r"^(bench/data/.*\.csv|\.secrets\.baseline)$")


def project_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # noqa: S607 - git from PATH
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return sorted(f for f in listed if f and not SECRET_SCAN_EXCLUDE.match(f) and (ROOT / f).is_file())


def test_no_secrets_in_the_repository() -> None:
    """detect-secrets over every project file; what it finds must be in .secrets.baseline, audited as not secret.

    A new finding fails with its file, line and kind (never the value). To accept a false positive:
    `make secrets-baseline`, then `.venv/bin/detect-secrets audit .secrets.baseline` (RELIABILITY.md).
    """
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import transient_settings

    baseline = json.loads((ROOT / ".secrets.baseline").read_text(encoding="utf-8"))
    known = {
        (filename, entry["hashed_secret"])
        for filename, entries in baseline["results"].items()
        for entry in entries
        if entry.get("is_secret") is False
    }
    found = SecretsCollection(root=str(ROOT))
    settings = {"plugins_used": baseline["plugins_used"], "filters_used": baseline["filters_used"]}
    with transient_settings(settings):
        found.scan_files(*project_files(), num_processors=2)
    new = [
        f"{filename}:{secret.line_number} {secret.type}"
        for filename, secret in found
        if (filename, secret.secret_hash) not in known
    ]
    assert new == [], "possible secrets (not in .secrets.baseline as audited false positives):\n  " + "\n  ".join(new)


# Marked fakes, assembled here so that the repository scan above does not flag this file.
CANARY_KEY = "AKIA" + "CANARY" + "0" * 10
CANARY_SECRET = "/".join(("reliability", "Canary+Secret", "0123456789abcdefCANARY"))
CANARY_TOKEN = "-".join(("reliability", "canary", "session", "token", "0123456789"))


def test_no_credentials_reach_the_logs_or_the_decision_log(
    aws: EmbeddedAws, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    """Handlers run with marked fake credentials, Marea's logger at DEBUG, every other logger at INFO,
    and AWS failing half the calls: neither the logs nor the recorded decisions contain them."""
    from chalicelib.observability import SERVICE, logger

    stack = fresh_stack(aws)
    build_fleet(aws_clients(), asgs=1, services=1)
    for name, value in (
        ("AWS_ACCESS_KEY_ID", CANARY_KEY),
        ("AWS_SECRET_ACCESS_KEY", CANARY_SECRET),
        ("AWS_SESSION_TOKEN", CANARY_TOKEN),
    ):
        monkeypatch.setenv(name, value)
    forget_wiring()  # Marea's clients built anew from that environment
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logger().registered_formatter)  # Powertools' JSON lines, as in CloudWatch Logs
    marea_log, root = logging.getLogger(SERVICE), logging.getLogger()
    levels = marea_log.level, root.level
    for log, level in ((marea_log, logging.DEBUG), (root, logging.INFO)):
        log.addHandler(handler)
        log.setLevel(level)
    try:
        now = datetime.now(UTC)
        deliveries = [Delivery(f"alarm-{i}", ALARM, alarm_event("web-0", now, 95)) for i in range(3)]
        deliveries += [Delivery("tick", TICK, tick_event(now))]
        report = run_threads(deliveries, Plan(threads=2, faults=FaultPlan(rate=0.5, seed=11), max_invocations=3))
        invoke(Delivery("malformed", ALARM, {"id": "x", "detail": {"token": "not-a-secret"}}))
        decisions = json.dumps([d.model_dump(mode="json") for d in read_decisions(stack.decisions_table)])
    finally:
        for log, level in zip((marea_log, root), levels, strict=True):
            log.removeHandler(handler)
            log.setLevel(level)
    printed = capfd.readouterr()
    logs = captured.getvalue() + printed.out + printed.err + "\n".join(report.errors)
    assert '"service":"marea"' in captured.getvalue()  # Marea's own lines were captured...
    assert '"level":"ERROR"' in logs  # ...the faults' errors among them, with their messages
    for canary in (CANARY_KEY, CANARY_SECRET, CANARY_TOKEN):
        assert canary not in logs
        assert canary not in decisions


# ---- bandit ----------------------------------------------------------------------------------

NARROWING = "isinstance asserts narrow the type for mypy; the registry picks the actuator by kind"
BANDIT_PATHS = ("app.py", "chalicelib", "kops_runner", "chat", "marea_local", "marea_backtest", "marea_cli", "infra")
# Findings justified here rather than at their line (where bandit reads nosec and ruff its S codes):
JUSTIFIED = {
    ("chalicelib/actuators/asg.py", "B101"): NARROWING,
    ("chalicelib/actuators/ecs.py", "B101"): NARROWING,
    ("chalicelib/actuators/kops.py", "B101"): NARROWING,
    ("infra/package.py", "B603"): "cfn-lint from our own virtualenv with a fixed argument list",
    ("marea_local/demo/api_process.py", "B310"): "the local demo reads its own API on http://127.0.0.1",
    ("marea_local/kops_local.py", "B603"): "runs the kops runner module with our own interpreter, fixed arguments",
    ("marea_local/embedded_aws.py", "B105"): "moto's fake credentials ('testing'), only ever sent to 127.0.0.1",
}
# Checks skipped everywhere: importing subprocess is no risk in itself; each call is checked (B603, B607).
SKIPPED = {"B404"}
_RUFF_CODE = re.compile(r"#\s*(?:noqa:\s*(S\d{3})|nosec)")


def test_bandit_finds_nothing_that_is_not_justified() -> None:
    """bandit over every shipped or run Python package: each finding carries a reason, at its line
    (`# noqa: S<same number> - why`, which ruff enforces too) or in JUSTIFIED above."""
    result = subprocess.run(  # noqa: S603 - our own virtualenv's bandit, fixed arguments
        [sys.executable, "-m", "bandit", "-q", "-r", *BANDIT_PATHS, "--skip", ",".join(sorted(SKIPPED)), "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    unjustified, used = [], set()
    for issue in report["results"]:
        filename, test_id = issue["filename"].removeprefix("./"), issue["test_id"]
        if (filename, test_id) in JUSTIFIED:
            used.add((filename, test_id))
            continue
        lines = (ROOT / filename).read_text(encoding="utf-8").splitlines()
        marks = [_RUFF_CODE.search(lines[n - 1]) for n in issue["line_range"] if n <= len(lines)]
        if not any(m and (m.group(1) is None or m.group(1)[1:] == test_id[1:]) for m in marks):
            unjustified.append(f"{filename}:{issue['line_number']} {test_id} {issue['issue_text']}")
    assert unjustified == []
    stale = sorted(set(JUSTIFIED) - used)
    assert stale == [], f"justifications for findings bandit no longer reports: {stale}"


# ---- Lambda dependencies ---------------------------------------------------------------------

_PIN = re.compile(r"^([A-Za-z0-9_.\-\[\],]+)==([^\s\\;]+)")


def _requirements(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a requirements file (continuation lines joined)."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    pinned: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        match = _PIN.match(line)
        if line and not line.startswith("#"):
            assert match, f"{path.name}: not pinned with ==: {line!r}"
            name = re.sub(r"\[.*\]", "", match.group(1)).lower().replace("_", "-")
            pinned[name] = (match.group(2), re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return pinned


def _assert_locked(wanted_path: Path, lock_path: Path) -> dict[str, tuple[str, list[str]]]:
    """The lock pins every requirement of wanted_path at its version, and every locked package has hashes."""
    wanted = _requirements(wanted_path)
    assert wanted, f"{wanted_path.name} names no package"
    assert lock_path.exists(), f"{lock_path.relative_to(ROOT)} is missing: run `make lock`"
    locked = _requirements(lock_path)
    assert {name: version for name, (version, _) in wanted.items()} == {
        name: locked[name][0] for name in wanted if name in locked
    }, f"{lock_path.relative_to(ROOT)} is stale: run `make lock`"
    assert set(wanted) <= set(locked)
    assert all(hashes for _, hashes in locked.values()), "every locked package needs its sha256 hashes"
    return locked


def test_the_lambda_dependencies_are_locked_with_hashes() -> None:
    """requirements.lock.txt (make lock) pins requirements.in and everything it pulls in, each with hashes."""
    locked = _assert_locked(ROOT / "requirements.in", ROOT / "requirements.lock.txt")
    assert "boto3" not in locked  # the Lambda runtime provides it


def test_chalice_resolves_nothing_itself() -> None:
    """Chalice pip-installs requirements.txt at `chalice deploy`/`package` time, and its second pass (a
    Lambda-platform wheel per package) names packages, not files, so no hash is checked: requirements.txt
    stays empty and the Lambda's dependencies reach the zip through vendor/ (`make vendor`, infra/vendor.py)."""
    from chalice.deploy.packager import DependencyBuilder
    from chalice.utils import OSUtils

    builder = DependencyBuilder(OSUtils())
    assert not builder._has_at_least_one_package(str(ROOT / "requirements.txt"))  # Chalice's own test


@pytest.mark.parametrize("image", ["kops_runner", "chat"])
def test_the_image_dependencies_are_locked_with_hashes(image: str) -> None:
    """<image>/requirements.lock.txt (make lock) pins its requirements.txt and all it pulls in, with hashes;
    the Dockerfile installs the lock alone, hashes required, no resolution (--no-deps)."""
    _assert_locked(ROOT / image / "requirements.txt", ROOT / image / "requirements.lock.txt")
    dockerfile = (ROOT / image / "Dockerfile").read_text(encoding="utf-8")
    installs = re.findall(r"^RUN pip install .*$", dockerfile, re.M)
    assert installs, "the Dockerfile installs no Python dependencies"
    for install in installs:
        assert "--require-hashes" in install, install
        assert "--no-deps" in install, install
        assert re.search(r"-r \S*requirements\.lock\.txt$", install), install
