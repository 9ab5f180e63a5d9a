"""`make deploy-rehearsal`: `make deploy STAGE=dev` into a fresh embedded AWS, twice, with the real `chalice deploy`.

The embedded AWS is moto on 127.0.0.1 with one shim (marea_local/rest_api_import_shim.py: moto reads
only OpenAPI 3, Chalice sends Swagger 2.0). The deploy runs in a copy of the project (it writes the
stage's environment into .chalice/config.json and Chalice records the stage in .chalice/deployed/,
which must not point at the rehearsal afterwards) and bundles no vendor/ (moto runs no function, and
building vendor/ would reach PyPI). It prints each resource the deploy created, runs it a second time,
and fails unless that run changed nothing: every function (code, revision, last-modified), rule, event
source, role and API read back the same.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import boto3

from marea_deploy.project import project_copy
from marea_local import deployed_resources
from marea_local.deployed_resources import DeployedResources
from marea_local.embedded_aws import REGION, EmbeddedAws, start_embedded_aws
from marea_local.rest_api_import_shim import import_shim

ROOT = Path(__file__).resolve().parent.parent
STAGE = "dev"
TIMEOUT_S = 300  # one `make deploy` here takes a few seconds


@dataclass(frozen=True)
class Run:
    output: str
    seconds: float
    resources: DeployedResources


@dataclass(frozen=True)
class Rehearsal:
    first: Run
    second: Run
    project: Path

    @property
    def second_changed_nothing(self) -> bool:
        return self.first.resources == self.second.resources and "Nothing changed" in self.second.output


def make_deploy(aws: EmbeddedAws, project: Path, arguments: Sequence[str] = ()) -> str:
    """`make deploy STAGE=dev` against the embedded AWS; its output (raises when it fails)."""
    deploy_args = " ".join(["--project-dir", str(project), "--without-dependencies", *arguments])
    command = ["make", "--no-print-directory", "-C", str(ROOT), "deploy", f"STAGE={STAGE}", "DEPLOY_VENDOR="]
    command.append(f"DEPLOY_ARGS={deploy_args}")
    environment = {**_clean_environment(), **aws.environment()}
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        command, env=environment, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise RuntimeError(f"make deploy exited {completed.returncode}:\n{output}")
    return output


def _clean_environment() -> dict[str, str]:
    """This environment without AWS settings of the developer's own: no profile, endpoint (per service
    too) or credentials from the environment, and no config or credentials file (their endpoint and
    profile settings would apply otherwise)."""
    import os

    kept = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("MAREA_")}
    return {**kept, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def session_for(aws: EmbeddedAws) -> boto3.session.Session:
    environment = aws.environment()
    return boto3.session.Session(
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=environment["AWS_SESSION_TOKEN"],
        region_name=REGION,
    )


class EndpointSession:
    """A boto3 session whose clients all go to the embedded AWS."""

    def __init__(self, aws: EmbeddedAws) -> None:
        self._session = session_for(aws)
        self._url = aws.url

    def client(self, service: str) -> object:
        return self._session.client(service, endpoint_url=self._url)  # type: ignore[call-overload]


def rehearse(aws: EmbeddedAws, project: Path, say: Callable[[str], None] = lambda _line: None) -> Rehearsal:
    session = EndpointSession(aws)
    runs = []
    for attempt in ("first", "second"):
        started = time.monotonic()
        output = make_deploy(aws, project)
        seconds = time.monotonic() - started
        say(f"--- make deploy STAGE={STAGE}, {attempt} run ({seconds:.1f} s) ---")
        say(output.rstrip())
        runs.append(Run(output, seconds, deployed_resources.read(session, f"marea-{STAGE}")))
    return Rehearsal(first=runs[0], second=runs[1], project=project)


def describe(resources: DeployedResources, policy_file: Path) -> list[str]:
    """One line per resource, as the rehearsal prints them."""
    policy = _policy(policy_file)
    lines = [f"functions ({len(resources.functions)}):"]
    lines += [f"  {f.name}  {f.handler}  {f.runtime}  {len(f.environment)} variables" for f in resources.functions]
    lines.append(f"rules ({len(resources.rules)}):")
    for rule in resources.rules:
        what = rule.schedule or ", ".join(f"{k}={v}" for k, v in (rule.pattern or {}).items() if k != "detail")
        lines.append(f"  {rule.name}  {what}  -> {', '.join(t.rsplit(':', 1)[-1] for t in rule.targets)}")
    lines.append(f"event source mappings ({len(resources.event_sources)}):")
    lines += [
        f"  {m.queue_arn.rsplit(':', 1)[-1]} -> {m.function_arn.rsplit(':', 1)[-1]}  batch {m.batch_size}"
        for m in resources.event_sources
    ]
    lines.append(f"roles ({len(resources.roles)}):")
    for role in resources.roles:
        same = all(document == policy for document in role.policies.values()) and role.policies
        names = ", ".join(role.policies) or "no inline policy"
        lines.append(f"  {role.name}  {names}{' = ' + policy_file.name if same else ''}")
    lines.append(f"REST APIs ({len(resources.apis)}):")
    lines += [
        f"  {a.id} {a.name}  {a.deployments} deployments, gateway responses "
        + ", ".join(kind for kind, _ in a.gateway_responses)
        for a in resources.apis
    ]
    return lines


def _policy(path: Path) -> dict[str, object]:
    import json

    document: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return document


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    started = time.monotonic()
    aws = start_embedded_aws(wrap=import_shim)
    try:
        with tempfile.TemporaryDirectory(prefix="marea-rehearsal-") as scratch:
            print(f"embedded AWS on {aws.url}; project copied to {scratch}", flush=True)
            rehearsal = rehearse(aws, project_copy(Path(scratch)), say=print)
            print("--- created by the first run (read back from the embedded AWS) ---")
            for line in describe(rehearsal.first.resources, rehearsal.project / ".chalice" / f"policy-{STAGE}.json"):
                print(line)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"deploy rehearsal failed: {exc}", file=sys.stderr)
        return 1
    finally:
        aws.stop()
    if not rehearsal.second_changed_nothing:
        print("deploy rehearsal failed: the second make deploy changed what the first deployed", file=sys.stderr)
        return 1
    print(
        f"second run: nothing changed. Rehearsal {time.monotonic() - started:.1f} s "
        f"(first deploy {rehearsal.first.seconds:.1f} s, second {rehearsal.second.seconds:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
