"""The API subcommands: each reads its arguments, makes its calls and prints (a table, or the API's JSON)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from marea_cli.client import ApiClient
from marea_cli.views import decision_detail, decisions_table, target_detail, targets_table
from marea_cli.watch import follow

MERGE_PATCH = "application/merge-patch+json"


class BadInput(Exception):
    """The command line or a file it names cannot be sent (nothing was sent)."""


def _segment(value: str) -> str:
    """An id as one path segment: `web?x` or `a/b` must name that id, not another route."""
    return urllib.parse.quote(value, safe="")


def read_body(path: Path) -> Any:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"{path} is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadInput(f"{path} must hold a JSON object")
    return body


def emit(args: argparse.Namespace, body: Any, table: str) -> None:
    print(json.dumps(body, indent=2) if args.output == "json" else table)


def targets(args: argparse.Namespace, client: ApiClient) -> int:
    if args.action == "list":
        body = client.call("GET", "/targets")
        emit(args, body, targets_table(body["targets"]))
    elif args.action == "get":
        body = client.call("GET", f"/targets/{_segment(args.id)}")
        emit(args, body, target_detail(body))
    elif args.action == "put":
        body = client.call("PUT", f"/targets/{_segment(args.id)}", body=read_body(args.file))
        emit(args, body, f"target {body['id']} written (version {body['version']})")
    elif args.action == "patch":
        body = client.call("PATCH", f"/targets/{_segment(args.id)}", body=_patch(args), content_type=MERGE_PATCH)
        emit(
            args,
            body,
            f"target {body['id']} patched (version {body['version']}): mode {body['mode']}, "
            f"paused {'yes' if body.get('paused') else 'no'}",
        )
    else:
        client.call("DELETE", f"/targets/{_segment(args.id)}")
        emit(args, {"deleted": args.id}, f"target {args.id} deleted")
    return 0


def _patch(args: argparse.Namespace) -> dict[str, Any]:
    patch: dict[str, Any] = read_body(args.file) if args.file else {}
    if args.mode:
        patch["mode"] = args.mode
    if args.paused is not None:
        patch["paused"] = args.paused == "true"
    if not patch:
        raise BadInput("nothing to patch: give --file, --mode or --paused")
    return patch


def decisions(args: argparse.Namespace, client: ApiClient) -> int:
    if args.action == "get":
        body = client.call("GET", f"/decisions/{_segment(args.id)}")
        emit(args, body, decision_detail(body))
        return 0
    if args.action == "watch":
        return _watch(args, client)
    query = {
        key: str(value)
        for key, value in {
            "target": args.target,
            "outcome": args.outcome,
            "since": args.since,
            "until": args.until,
            "limit": args.limit,
        }.items()
        if value is not None
    }
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.call("GET", "/decisions", query={**query, **({"cursor": cursor} if cursor else {})})
        found.extend(page["decisions"])
        cursor = page.get("cursor")
        if not (args.all and cursor):
            break
    emit(args, {"decisions": found, "cursor": None if args.all else cursor}, decisions_table(found))
    if cursor and not args.all and args.output == "table":
        print("(more decisions: add --all, or a larger --limit)", file=sys.stderr)
    return 0


def _watch(args: argparse.Namespace, client: ApiClient) -> int:
    printed = 0
    if args.output == "table":
        print(decisions_table([]), flush=True)  # the header
    which = f"target {args.target}" if args.target else "every target"
    try:
        for decision in follow(
            client, args.target, args.interval, ready=lambda: _say(f"watching {which}; Ctrl-C ends")
        ):
            if args.output == "json":
                print(json.dumps(decision), flush=True)
            else:
                print(decisions_table([decision]).split("\n", 1)[1], flush=True)
            printed += 1
            if args.count and printed >= args.count:
                break
    except KeyboardInterrupt:
        print(file=sys.stderr)  # past the terminal's ^C
        _say("stopped watching")
    return 0


def _say(note: str) -> None:
    """A note for the person at the terminal: on stderr, so that stdout holds only decisions (JSON lines)."""
    print(f"marea: {note}", file=sys.stderr, flush=True)


def evaluate(args: argparse.Namespace, client: ApiClient) -> int:
    body = client.call("POST", f"/targets/{_segment(args.id)}/evaluate")
    emit(args, body, decisions_table([body]) + "\n" + f"why: {body.get('explanation')}")
    return 0
