"""`make deploy STAGE=...` / `marea deploy --stage ...`, and `make destroy` / `marea destroy` (README, Deploy to AWS).

Exit codes: 0 deployed (or nothing to change) / destroyed; 2 refused before anything changed (bad
input, no credentials, a stale vendor/); 1 a step failed (a stack, Chalice): what it had done by then
is printed, and running the command again continues from there.
"""

from __future__ import annotations

import argparse
import ipaddress
import subprocess
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from marea_deploy import catalogue, deployment
from marea_deploy.catalogue import ROOT, Network
from marea_deploy.lambdas import LambdasFailed
from marea_deploy.stacks import StackFailed

REFUSED, FAILED = 2, 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="marea", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stage", required=True, help="the Chalice stage (.chalice/config.json), e.g. dev or prod")
    common.add_argument("--project-dir", type=Path, default=ROOT, help="the Chalice project (default: this repository)")
    deploy = sub.add_parser("deploy", parents=[common], help="deploy or update the stacks and the Lambdas")
    for key in catalogue.OPTIONAL:
        deploy.add_argument(f"--{key}", action="store_true", help=f"deploy or update the {key} stack too")
    deploy.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="STACK.Key=Value",
        help="a stack parameter, e.g. chat.ImageUri=<image> or data.NotificationEmail=<address> (repeatable)",
    )
    deploy.add_argument("--vpc-id", help="your VPC, for the workloads and the runner, instead of --network")
    deploy.add_argument("--public-subnets", default="", help="comma-separated, with --vpc-id")
    deploy.add_argument("--private-subnets", default="", help="comma-separated, with --vpc-id")
    deploy.add_argument(
        "--without-dependencies",
        action="store_true",
        help="bundle no vendor/ (the rehearsal on the embedded AWS only, which runs no function)",
    )
    destroy = sub.add_parser("destroy", parents=[common], help="delete the Lambdas and the stacks make deploy made")
    destroy.add_argument("--delete-decisions", action="store_true", help="delete the decision table too")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    project: Path = args.project_dir.resolve()
    try:
        import boto3

        session = boto3.session.Session()
        if args.command == "destroy":
            deployment.destroy(session, args.stage, project, delete_decisions=args.delete_decisions, say=_say)
            return 0
        request = _request(args, project)
        _check_dependencies(args, project, session)
        report = deployment.deploy(session, request, _say)
    except deployment.DeployRefused as exc:
        print(f"marea {args.command}: {exc}", file=sys.stderr)
        return REFUSED
    except (StackFailed, LambdasFailed, ClientError, BotoCoreError) as exc:
        print(f"marea {args.command}: {exc}", file=sys.stderr)
        return FAILED
    _summary(report, args.stage, project)
    return 0


def _request(args: argparse.Namespace, project: Path) -> deployment.DeployRequest:
    network = None
    if args.vpc_id:
        if args.network:
            raise deployment.DeployRefused("--network and --vpc-id: choose one")
        if not args.public_subnets or not args.private_subnets:
            raise deployment.DeployRefused("--vpc-id needs --public-subnets and --private-subnets too")
        network = Network(args.vpc_id, args.public_subnets, args.private_subnets)
    elif args.public_subnets or args.private_subnets:
        raise deployment.DeployRefused("--public-subnets and --private-subnets go with --vpc-id")
    return deployment.DeployRequest(
        stage=args.stage,
        project=project,
        optional=tuple(key for key in catalogue.OPTIONAL if getattr(args, key.replace("-", "_"))),
        parameters=deployment.parse_parameters(args.parameter),
        network=network,
    )


# The services `make deploy` and `chalice deploy` call: with --without-dependencies each must be the embedded AWS.
_DEPLOY_SERVICES = ("sts", "cloudformation", "s3", "dynamodb", "iam", "lambda", "events", "sqs", "apigateway")


def _check_dependencies(args: argparse.Namespace, project: Path, session: Any) -> None:
    """vendor/ built from the current lock; or, on the embedded AWS only, none at all."""
    if args.without_dependencies:
        # The endpoints boto3 will use, not only AWS_ENDPOINT_URL: a per-service variable or the
        # config file's endpoint settings can send one service elsewhere.
        if not session.region_name:
            raise deployment.DeployRefused(deployment.NO_REGION)
        elsewhere = sorted(s for s in _DEPLOY_SERVICES if not _is_loopback(session.client(s).meta.endpoint_url))
        if elsewhere:
            raise deployment.DeployRefused(
                "--without-dependencies deploys Lambdas that cannot start: only on the embedded AWS "
                f"(every endpoint on 127.0.0.1; not so for {', '.join(elsewhere)})"
            )
        return
    check = [sys.executable, str(ROOT / "infra" / "vendor.py"), "--check", "--vendor", str(project / "vendor")]
    if subprocess.run(check, check=False).returncode != 0:  # noqa: S603 - fixed arguments
        raise deployment.DeployRefused("vendor/ is not the lock's set: run `make vendor` (make deploy does)")


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _summary(report: deployment.DeployReport, stage: str, project: Path) -> None:
    assert report.lambdas is not None
    print()
    print(
        "Nothing changed: the stage is deployed as asked."
        if not report.changed_anything
        else f"Stage {stage} deployed."
    )
    print(f"  API:     {report.lambdas.api_url}")
    here = "" if project == Path.cwd().resolve() else f"cd {project} && "
    print(f"  Console: {here}marea console --stage {stage}")
    for key, stack in report.stacks.items():
        if key == "chat" and "MareaTargetBody" in stack.outputs:
            print(f"  The chat's target body: {stack.outputs['MareaTargetBody']}")
    print("Next: register a target in advise mode (it records what it would do and changes nothing):")
    print(f'  {here}marea targets put web --stage {stage} --file web.json    # "mode": "advise"')
    print(f"  {here}marea decisions list --stage {stage} --target web       # then, when they are right:")
    print(f"  {here}marea targets patch web --stage {stage} --mode act")


def _say(line: str) -> None:
    print(line, flush=True)
