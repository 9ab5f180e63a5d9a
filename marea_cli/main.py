"""`marea`: targets, decisions, evaluate and console against Marea's HTTP API; `marea backtest`, `marea deploy`.

Exit codes (docs/cli.md): 0 done; 1 the API refused the request (4xx: its code and message are
printed); 2 the command line or an input file is wrong (nothing was sent); 3 the API failed (5xx);
4 the API could not be reached or the request could not be signed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from marea_cli import commands
from marea_cli.client import ApiClient, ApiError, Unreachable
from marea_cli.endpoints import EndpointError, resolve
from marea_cli.signing import CredentialsMissing
from marea_cli.tables import printable

REFUSED, USAGE, FAILED, UNREACHABLE = 1, 2, 3, 4


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["backtest"]:
        from marea_backtest.cli import main as backtest

        return backtest(arguments)
    if arguments[:1] in (["deploy"], ["destroy"]):
        from marea_deploy.cli import main as deploy

        return deploy(arguments)
    args = parser().parse_args(arguments)
    try:
        # Run from the project: `chalice deploy` recorded the stages in .chalice/deployed/ there.
        endpoint = resolve(args.endpoint, args.stage, args.sign, Path.cwd())
        client = ApiClient(endpoint)
        if args.command == "console":
            from marea_cli.console import serve

            return serve(client, args.port)
        handler = {"targets": commands.targets, "decisions": commands.decisions, "evaluate": commands.evaluate}
        return handler[args.command](args, client)
    except commands.BadInput as exc:
        return _fail(USAGE, str(exc))
    except ApiError as exc:
        return _fail(REFUSED if exc.status < 500 else FAILED, f"{exc.status} {exc.code}: {exc.message}")
    except (Unreachable, EndpointError, CredentialsMissing) as exc:
        return _fail(UNREACHABLE, str(exc))


def _fail(code: int, message: str) -> int:
    print(f"marea: {printable(message)}", file=sys.stderr)  # API text is user input: no control characters
    return code


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("where the API is")
    where.add_argument(
        "--endpoint",
        metavar="URL",
        help="the API's URL (default $MAREA_ENDPOINT, else the demo's http://127.0.0.1:8000)",
    )
    where.add_argument(
        "--stage",
        metavar="NAME",
        help="a deployed stage: its URL from .chalice/deployed/NAME.json, "
        "every request SigV4-signed with your AWS credentials",
    )
    where.add_argument("--sign", action="store_true", help="sign requests to --endpoint too (an API Gateway URL)")
    common.add_argument(
        "--output",
        choices=["table", "json"],
        default="table",
        help="table (80 columns) or the API's JSON as it came (default %(default)s)",
    )

    top = argparse.ArgumentParser(
        prog="marea", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("backtest", help="replay a trace under scaling policies (marea backtest --help)")
    sub.add_parser("deploy", help="deploy or update a stage: stacks, environment, Lambdas (marea deploy --help)")
    sub.add_parser("destroy", help="delete a stage's Lambdas and stacks (marea destroy --help)")

    targets = sub.add_parser("targets", help="list, read, write, patch or delete targets")
    target_actions = targets.add_subparsers(dest="action", required=True, metavar="ACTION")
    target_actions.add_parser("list", parents=[common], help="every registered target")
    for name, what in (("get", "one target"), ("delete", "remove a target (its decisions stay)")):
        target_actions.add_parser(name, parents=[common], help=what).add_argument("id")
    put = target_actions.add_parser("put", parents=[common], help="create or replace a target from a JSON body")
    put.add_argument("id")
    put.add_argument("--file", type=Path, required=True, metavar="BODY.json", help="the target's body ('-': stdin)")
    patch = target_actions.add_parser("patch", parents=[common], help="change some fields (a JSON merge patch)")
    patch.add_argument("id")
    patch.add_argument("--file", type=Path, metavar="PATCH.json", help="a merge patch ('-': stdin)")
    patch.add_argument("--mode", choices=["advise", "act"], help='shorthand for {"mode": ...}')
    patch.add_argument("--paused", choices=["true", "false"], help='shorthand for {"paused": ...}')

    decisions = sub.add_parser("decisions", help="read the decision log, or follow it live")
    decision_actions = decisions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = decision_actions.add_parser("list", parents=[common], help="decisions, newest first")
    listing.add_argument("--target", metavar="ID")
    listing.add_argument("--outcome", choices=["applied", "failed", "recommended", "skipped", "pending"])
    listing.add_argument("--since", metavar="ISO8601", help="e.g. 2026-12-01T00:00:00Z")
    listing.add_argument("--until", metavar="ISO8601")
    listing.add_argument("--limit", type=int, default=20, metavar="N", help="per page (default %(default)s)")
    listing.add_argument("--all", action="store_true", help="follow the cursor to the last page")
    decision_actions.add_parser("get", parents=[common], help="one decision, with why").add_argument("id")
    watch = decision_actions.add_parser("watch", parents=[common], help="print new decisions as they are recorded")
    watch.add_argument("--target", metavar="ID")
    watch.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between polls (default 2)")
    watch.add_argument("--count", type=int, default=0, metavar="N", help="stop after N decisions (default: Ctrl-C)")

    sub.add_parser("evaluate", parents=[common], help="evaluate a target now (POST /targets/ID/evaluate)").add_argument(
        "id"
    )
    console = sub.add_parser(
        "console",
        parents=[common],
        help="serve the console on 127.0.0.1, forwarding (and signing, with --stage) every request to the API",
    )
    console.add_argument("--port", type=int, default=0, help="local port (default: a free one)")
    return top


if __name__ == "__main__":
    sys.exit(main())
